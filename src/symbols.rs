//! Names for the return addresses of allocation sites ([`taskmem::sites`]): function, file
//! and line of each address in a bench executable, inlined calls as frames of their own, read
//! by binutils' `addr2line` (`addr2line -e EXE -a -f -i -C`), which every Linux toolchain that
//! links Rust has beside its linker. Without it the bill says so and shows no sites.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::bill::sites::Frame;

/// The frames of each of `addresses` (return addresses, relative to the executable's load
/// address) in `exe`, innermost first. A return address is looked up one byte back, in the
/// call instruction it returns from.
pub fn resolve(exe: &Path, addresses: &[u64]) -> Result<BTreeMap<u64, Vec<Frame>>, String> {
    let mut child = Command::new("addr2line")
        .arg("-e")
        .arg(exe)
        .args(["-a", "-f", "-i", "-C"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            format!("cannot run addr2line (binutils) to name the allocation sites: {e}")
        })?;
    let mut input = String::new();
    for a in addresses {
        input.push_str(&format!("{:#x}\n", a.saturating_sub(1)));
    }
    // A writer thread: addr2line answers as it reads, and a full pipe would stop both.
    let mut stdin = child.stdin.take().ok_or("addr2line: no stdin")?;
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(|e| format!("addr2line: {e}"))?;
    let _ = writer.join();
    if !out.status.success() {
        return Err(format!("addr2line failed ({})", out.status));
    }
    Ok(parse(&String::from_utf8_lossy(&out.stdout), addresses))
}

/// `addr2line -a -f -i` output: for each address a line `0x...`, then a function line and a
/// `file:line` line per frame, innermost first.
fn parse(text: &str, addresses: &[u64]) -> BTreeMap<u64, Vec<Frame>> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines().peekable();
    let mut next = addresses.iter();
    while let Some(line) = lines.next() {
        if !line.starts_with("0x") {
            continue;
        }
        let Some(&address) = next.next() else { break };
        let mut frames = Vec::new();
        while let Some(function) = lines.next_if(|l| !l.starts_with("0x")) {
            let place = lines.next().unwrap_or("??:0");
            let (file, line) = place
                .split(" (discriminator")
                .next()
                .unwrap_or(place)
                .rsplit_once(':')
                .unwrap_or((place, "0"));
            frames.push(Frame {
                function: function.to_string(),
                file: (file != "??").then(|| file.to_string()),
                line: line.trim().parse().ok().filter(|&l| l > 0),
            });
        }
        // binutils names the first frame of an inlined chain by the symbol of the function
        // that holds the code (the outermost), and the last by that function's own short
        // name: the symbol goes to the last, and the innermost is named by its file alone.
        if frames.len() > 1 {
            let symbol = std::mem::replace(&mut frames[0].function, "(inlined)".into());
            if let Some(last) = frames.last_mut() {
                last.function = symbol;
            }
        }
        out.insert(address, frames);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inlined_frames_are_read_innermost_first() {
        let text = "0x0000000000001233\nalloc::raw_vec::RawVec::allocate\n/rustc/abc/library/alloc/src/raw_vec.rs:470\nbench::handler::{{closure}}\n/home/u/b/benches/tasks.rs:11 (discriminator 2)\n0x0000000000002000\n??\n??:0\n";
        let frames = parse(text, &[0x1234, 0x2001]);
        let first = &frames[&0x1234];
        assert_eq!(first.len(), 2);
        // The symbol (binutils prints it first) names the outermost frame.
        assert_eq!(first[0].function, "(inlined)");
        assert_eq!(first[1].function, "alloc::raw_vec::RawVec::allocate");
        assert_eq!(first[1].file.as_deref(), Some("/home/u/b/benches/tasks.rs"));
        assert_eq!(first[1].line, Some(11));
        assert_eq!(frames[&0x2001][0].file, None);
    }
}
