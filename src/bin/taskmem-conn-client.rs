//! The client of `cargo bench --bench connections`: rounds of N loopback connections to the
//! server under measurement (see `taskmem_suite::connections::client`). Not meant to be run by
//! hand: the bench starts it with `ADDR KIND N` and drives it through its stdin.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = taskmem_suite::connections::client::main(&args) {
        eprintln!("taskmem-conn-client: {e}");
        std::process::exit(1);
    }
}
