//! The compiler's type layouts: rustc's `-Zprint-type-sizes` output, read into types,
//! variants and fields.
//!
//! `-Zprint-type-sizes` is an unstable flag: it needs a nightly rustc, or the stable one with
//! `RUSTC_BOOTSTRAP=1` (which the bill says wherever it uses it). For an `async fn` or block
//! it prints the state machine: one variant per state (`Unresumed`, `Suspend0`, ...,
//! `Returned`, `Panicked`), each with the locals it holds (`.request`), the future it awaits
//! (`.__awaitee`, with its type), and padding:
//!
//! ```text
//! print-type-size type: `{async fn body of handler()}`: 680 bytes, alignment: 8 bytes
//! print-type-size     discriminant: 1 bytes
//! print-type-size     variant `Suspend0`: 655 bytes
//! print-type-size         local `.request`: 24 bytes, offset: 0 bytes, alignment: 8 bytes
//! print-type-size         local `.__awaitee`: 112 bytes, alignment: 1 bytes, type: Sleep
//! ```

use std::collections::BTreeMap;

/// One type as the compiler laid it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeLayout {
    /// The type's name as rustc prints it (`{async fn body of handler()}`,
    /// `tokio::runtime::task::core::Cell<...>`).
    pub name: String,
    /// `size_of`, in bytes.
    pub size: u64,
    /// `align_of`, in bytes.
    pub align: u64,
    /// The discriminant's bytes (an enum or a state machine), 0 for a struct.
    pub discriminant: u64,
    /// The fields of a struct (one unnamed variant), or the variants of an enum.
    pub variants: Vec<Variant>,
    /// Padding at the end, in bytes.
    pub end_padding: u64,
}

/// One variant of an enum or state of a state machine (a struct's fields are one variant
/// with an empty name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// `Suspend0`, `Unresumed`; empty for a struct.
    pub name: String,
    /// Its bytes, as rustc prints them (without the discriminant).
    pub size: u64,
    /// What it holds, in the order printed.
    pub fields: Vec<Field>,
}

/// What a variant holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// `local`, `upvar` or `field`; `padding` for padding.
    pub kind: String,
    /// The name without its leading dot (`request`, `__awaitee`); empty for padding.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// The field's type, where rustc prints it (it does for awaitees).
    pub ty: Option<String>,
}

impl Variant {
    /// Whether this is a suspended state (an await point): `Suspend<k>`.
    pub fn is_await(&self) -> bool {
        self.name
            .strip_prefix("Suspend")
            .is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
    }

    /// The future awaited in this state, where it is one.
    pub fn awaitee(&self) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == "__awaitee")
    }
}

impl TypeLayout {
    /// Whether this is the state machine of an `async fn`, block or closure.
    pub fn is_async(&self) -> bool {
        self.name.starts_with("{async ")
    }
}

/// The number of bytes in `10 bytes`.
fn bytes(text: &str) -> Option<u64> {
    text.trim().strip_suffix(" bytes")?.trim().parse().ok()
}

/// The name between the first pair of backticks.
fn quoted(text: &str) -> Option<(&str, &str)> {
    let start = text.find('`')? + 1;
    let end = start + text[start..].find('`')?;
    Some((&text[start..end], &text[end + 1..]))
}

/// Every type in `output` (rustc's stdout with `-Zprint-type-sizes`; other lines are
/// skipped), by name. A type printed twice (by two crates) keeps its first layout.
pub fn parse(output: &str) -> BTreeMap<String, TypeLayout> {
    let mut types: BTreeMap<String, TypeLayout> = BTreeMap::new();
    let mut current: Option<TypeLayout> = None;
    let finish = |t: Option<TypeLayout>, types: &mut BTreeMap<String, TypeLayout>| {
        if let Some(t) = t {
            types.entry(t.name.clone()).or_insert(t);
        }
    };
    for line in output.lines() {
        let Some(rest) = line.strip_prefix("print-type-size ") else {
            continue;
        };
        let body = rest.trim_start();
        if let Some(t) = body.strip_prefix("type: ") {
            finish(current.take(), &mut types);
            let Some((name, tail)) = quoted(t) else {
                continue;
            };
            // `: 680 bytes, alignment: 8 bytes`
            let mut parts = tail.trim_start_matches(':').split(", alignment:");
            let size = parts.next().and_then(bytes).unwrap_or(0);
            let align = parts.next().and_then(bytes).unwrap_or(1);
            current = Some(TypeLayout {
                name: name.to_string(),
                size,
                align,
                discriminant: 0,
                variants: Vec::new(),
                end_padding: 0,
            });
            continue;
        }
        let Some(t) = current.as_mut() else {
            continue;
        };
        if let Some(d) = body.strip_prefix("discriminant:") {
            t.discriminant = bytes(d).unwrap_or(0);
        } else if let Some(p) = body.strip_prefix("end padding:") {
            t.end_padding = bytes(p).unwrap_or(0);
        } else if let Some(v) = body.strip_prefix("variant ") {
            let (name, tail) = quoted(v).unwrap_or(("", v));
            t.variants.push(Variant {
                name: name.to_string(),
                size: bytes(tail.trim_start_matches(':').split(',').next().unwrap_or(""))
                    .unwrap_or(0),
                fields: Vec::new(),
            });
        } else if let Some(p) = body.strip_prefix("padding:") {
            if let Some(v) = t.variants.last_mut() {
                v.fields.push(Field {
                    kind: "padding".into(),
                    name: String::new(),
                    size: bytes(p).unwrap_or(0),
                    ty: None,
                });
            }
        } else if let Some((kind, f)) = body.split_once(' ') {
            let Some((name, tail)) = quoted(f) else {
                continue;
            };
            // A struct's fields come without a variant line: one unnamed variant.
            if t.variants.is_empty() {
                t.variants.push(Variant {
                    name: String::new(),
                    size: t.size,
                    fields: Vec::new(),
                });
            }
            let tail = tail.trim_start_matches(':');
            let size = bytes(tail.split(',').next().unwrap_or("")).unwrap_or(0);
            let ty = tail.split(", type: ").nth(1).map(|s| s.trim().to_string());
            if let Some(v) = t.variants.last_mut() {
                v.fields.push(Field {
                    kind: kind.to_string(),
                    name: name.trim_start_matches('.').to_string(),
                    size,
                    ty,
                });
            }
        }
    }
    finish(current, &mut types);
    types
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// rustc's output for an `async fn handler()` holding a 512-byte local across two awaits,
    /// the second on `async fn inner(x)`, and one struct (the bill's tests share it).
    pub(crate) const HANDLER: &str = "\
print-type-size type: `{async fn body of handler()}`: 680 bytes, alignment: 8 bytes
print-type-size     discriminant: 1 bytes
print-type-size     variant `Unresumed`: 0 bytes
print-type-size     variant `Suspend0`: 655 bytes
print-type-size         local `.request`: 24 bytes, offset: 0 bytes, alignment: 8 bytes
print-type-size         local `.big`: 512 bytes
print-type-size         padding: 8 bytes
print-type-size         local `.__awaitee`: 112 bytes, alignment: 1 bytes, type: Sleep
print-type-size     variant `Suspend1`: 679 bytes
print-type-size         local `.request`: 24 bytes, offset: 0 bytes, alignment: 8 bytes
print-type-size         local `.big`: 512 bytes
print-type-size         padding: 8 bytes
print-type-size         local `.__awaitee`: 136 bytes, alignment: 8 bytes, type: {async fn body of inner()}
print-type-size     variant `Returned`: 0 bytes
print-type-size     variant `Panicked`: 0 bytes
print-type-size type: `{async fn body of inner()}`: 136 bytes, alignment: 8 bytes
print-type-size     discriminant: 1 bytes
print-type-size     variant `Unresumed`: 8 bytes
print-type-size         upvar `.x`: 8 bytes, offset: 0 bytes, alignment: 8 bytes
print-type-size     variant `Suspend0`: 128 bytes
print-type-size         upvar `.x`: 8 bytes, offset: 0 bytes, alignment: 8 bytes
print-type-size         local `.x`: 8 bytes
print-type-size         local `.__awaitee`: 112 bytes, type: Sleep
print-type-size     variant `Returned`: 8 bytes
print-type-size     end padding: 7 bytes
print-type-size type: `std::pin::Pin<&mut Sleep>`: 8 bytes, alignment: 8 bytes
print-type-size     field `.pointer`: 8 bytes
Compiling something else
";

    #[test]
    fn a_state_machine_is_read_with_its_states_locals_and_awaitees() {
        let types = parse(HANDLER);
        let h = &types["{async fn body of handler()}"];
        assert_eq!((h.size, h.align, h.discriminant), (680, 8, 1));
        assert!(h.is_async());
        let names: Vec<&str> = h.variants.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            ["Unresumed", "Suspend0", "Suspend1", "Returned", "Panicked"]
        );
        let s1 = &h.variants[2];
        assert!(s1.is_await() && !h.variants[0].is_await());
        assert_eq!(s1.size, 679);
        let a = s1.awaitee().unwrap();
        assert_eq!(
            (a.size, a.ty.as_deref()),
            (136, Some("{async fn body of inner()}"))
        );
        let big = s1.fields.iter().find(|f| f.name == "big").unwrap();
        assert_eq!((big.kind.as_str(), big.size), ("local", 512));
        assert_eq!(
            s1.fields.iter().find(|f| f.kind == "padding").unwrap().size,
            8
        );
        let pin = &types["std::pin::Pin<&mut Sleep>"];
        assert_eq!(pin.variants.len(), 1);
        assert_eq!(pin.variants[0].fields[0].name, "pointer");
    }
}
