//! How the suite's benches and tools end on bad input or a failure: one line on stderr,
//! `taskmem: <message>`, and an exit code (2 for bad input, 1 for a failure, 130 for Ctrl-C).

/// Prints `taskmem: <message>` on stderr and ends the process with `code`. Written to the
/// stderr handle itself, not through `eprintln!`: a test harness's output capture (which
/// threads inherit from the thread that spawned them) would keep the line in a buffer that
/// the exit discards.
pub fn exit_with(message: &str, code: i32) -> ! {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "taskmem: {message}");
    std::process::exit(code)
}

/// A panic's message, when its payload is a string (what `panic!` and `expect` make).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}
