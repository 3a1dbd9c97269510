//! The bill's reading of the compiler's layouts, on a program whose futures are known: a
//! local of 1000 B held across an await on a 112-byte future, a nested `async fn`, and the
//! same task with the local dropped before the await. The program is compiled with rustc's
//! `-Zprint-type-sizes` (`RUSTC_BOOTSTRAP=1`) and run, so the bill is checked against
//! `size_of_val` of the very futures, and its advice against the size the change gives.

use std::process::Command;

use taskmem_suite::bill::{future, layout};

const PROGRAM: &str = r#"
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A pending future of 112 bytes, like tokio's Sleep.
struct Sleep([u8; 112]);
impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        std::hint::black_box(&self.0);
        Poll::Pending
    }
}

async fn inner(x: u64) -> u64 {
    Sleep([0; 112]).await;
    x
}

/// Holds 1000 bytes across both awaits.
pub async fn fat() {
    let buffer = [7u8; 1000];
    let sum: u64 = buffer.iter().map(|&b| b as u64).sum();
    Sleep([0; 112]).await;
    let n = inner(sum).await;
    std::hint::black_box((buffer, n));
}

/// The same work, the buffer dropped before the awaits: only its sum survives them.
pub async fn lean() {
    let sum: u64 = {
        let buffer = [7u8; 1000];
        buffer.iter().map(|&b| b as u64).sum()
    };
    Sleep([0; 112]).await;
    let n = inner(sum).await;
    std::hint::black_box(n);
}

fn main() {
    let f = fat();
    println!("{} {}", std::mem::size_of_val(&f), std::any::type_name_of_val(&f));
    let l = lean();
    println!("{} {}", std::mem::size_of_val(&l), std::any::type_name_of_val(&l));
}
"#;

#[test]
fn a_local_held_across_an_await_is_billed_and_dropping_it_saves_what_the_bill_says() {
    let dir = std::env::temp_dir().join(format!("taskmem-bill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tasks.rs"), PROGRAM).unwrap();
    let out = Command::new("rustc")
        .current_dir(&dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .args([
            "--edition",
            "2024",
            "-Zprint-type-sizes",
            "-o",
            "tasks",
            "tasks.rs",
        ])
        .output()
        .expect("rustc runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let types = layout::parse(&String::from_utf8_lossy(&out.stdout));
    let run = Command::new(dir.join("tasks")).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let printed = String::from_utf8_lossy(&run.stdout).into_owned();
    let mut lines = printed.lines().map(|l| {
        let (size, name) = l.split_once(' ').unwrap();
        (size.parse::<u64>().unwrap(), name.to_string())
    });
    let (fat_size, fat_type) = lines.next().unwrap();
    let (lean_size, lean_type) = lines.next().unwrap();

    let fat = future::bill(&types, future::find(&types, &fat_type, fat_size).unwrap());
    assert_eq!(fat.size, fat_size);
    assert_eq!(fat.name, "{async fn body of fat()}");
    let fattest = &fat.states[fat.fattest];
    assert!(fattest.name.starts_with("Suspend"), "{fattest:?}");
    assert!(
        fattest.locals.contains(&("buffer".to_string(), 1000)),
        "{fattest:?}"
    );
    // The nested async fn is a row of its own, with its own await on Sleep.
    let inner = fat
        .nested
        .iter()
        .find(|n| n.name == "{async fn body of inner()}")
        .unwrap_or_else(|| panic!("no nested inner(): {:?}", fat.nested));
    assert!(
        inner
            .states
            .iter()
            .any(|s| s.awaits.as_deref() == Some("Sleep"))
    );
    // What to change: the buffer, held across both awaits; without it the future is what
    // the changed program measures.
    let advice = &fat.advice[0];
    assert_eq!((advice.local.as_str(), advice.bytes), ("buffer", 1000));
    assert_eq!(advice.held_across.len(), 2, "{advice:?}");
    assert_eq!(
        advice.future_without, lean_size,
        "the bill said {} B without the buffer; the changed program's future is {lean_size} B",
        advice.future_without
    );
    let lean = future::bill(&types, future::find(&types, &lean_type, lean_size).unwrap());
    assert!(
        lean.advice.iter().all(|a| a.local != "buffer"),
        "{:?}",
        lean.advice
    );
    println!("{}", fat.lines(0).join("\n"));
    println!("{}", lean.lines(0).join("\n"));
}
