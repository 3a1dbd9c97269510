//! Measuring without taskmem's counting allocator: one clear error that says how to install
//! it, not a wrong number (this test binary keeps the system allocator).

use std::time::Duration;

use taskmem::{Error, Runtime, Strategy, Tasks};

#[test]
fn measuring_without_the_counting_allocator_says_how_to_install_it() {
    let e = Tasks::new(Runtime::TokioCurrentThread, Strategy::JoinAll, 10)
        .measure(|| tokio::time::sleep(Duration::from_secs(10)))
        .unwrap_err();
    assert_eq!(e, Error::NoAllocator);
    assert!(
        e.to_string().contains("taskmem::use_tracked_jemalloc!();"),
        "{e}"
    );
}
