//! The future's part of the bill: its state machine, state by state (unresumed, each await,
//! returned), with the locals each state holds and their bytes, the fattest state named by
//! what it awaits, the futures it awaits as rows of their own, and what to change: the locals
//! of the fattest state held across an await, with the bytes a future would shed without
//! them.
//!
//! The source is the compiler's layout ([`super::layout`]), matched to the measured future by
//! its type name (`std::any::type_name`, which taskmem records with each case) and its size.

use std::collections::BTreeMap;

use super::layout::{Field, TypeLayout, Variant};

/// One state of a future's state machine.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// `Unresumed`, `Suspend0`, `Returned`, ...
    pub name: String,
    /// Bytes it holds (without the discriminant).
    pub bytes: u64,
    /// The type of the future it awaits, for an await point.
    pub awaits: Option<String>,
    /// The locals it holds, with their bytes (the awaitee, the arguments and captures, and
    /// padding apart).
    pub locals: Vec<(String, u64)>,
    /// The arguments of an `async fn` (and captures of a block) it holds, with their bytes.
    pub captures: Vec<(String, u64)>,
    /// Bytes of the awaited future itself.
    pub awaitee_bytes: u64,
    /// Padding the compiler put between them.
    pub padding: u64,
}

/// A change to the source and what it would save.
#[derive(Debug, Clone, PartialEq)]
pub struct Advice {
    /// The local.
    pub local: String,
    /// Its bytes.
    pub bytes: u64,
    /// The await points it is held across, each with what it awaits.
    pub held_across: Vec<String>,
    /// The future's size without the local held across those awaits.
    pub future_without: u64,
}

/// A future's state machine, as the bill shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FutureBill {
    /// The compiler's name for it (`{async fn body of handler()}`).
    pub name: String,
    /// `size_of`, in bytes.
    pub size: u64,
    /// The discriminant's bytes.
    pub discriminant: u64,
    /// Every state, in the compiler's order.
    pub states: Vec<State>,
    /// The index in `states` of the fattest one.
    pub fattest: usize,
    /// The async futures its await points await, each a bill of its own (one level per
    /// nesting, up to a few levels).
    pub nested: Vec<FutureBill>,
    /// The locals of the fattest state held across an await, the largest first.
    pub advice: Vec<Advice>,
}

/// How deep nested awaited futures are followed.
const NESTING: usize = 4;

/// The least a change must save to be advised, in bytes: a pointer-sized local costs about
/// its padding.
const WORTH: u64 = 16;

/// The layout of the measured future: an async state machine of `size` bytes whose name
/// matches `type_name` (`mybench::handler::{{closure}}` is `{async fn body of handler()}`,
/// possibly with its module path). `Err` says why none, or which several, matched.
pub fn find<'a>(
    types: &'a BTreeMap<String, TypeLayout>,
    type_name: &str,
    size: u64,
) -> Result<&'a TypeLayout, String> {
    let sized: Vec<&TypeLayout> = types
        .values()
        .filter(|t| t.is_async() && t.size == size)
        .collect();
    // `a::b::handler::{{closure}}`: the async fn `handler`; more closures: a block in it.
    let path: Vec<&str> = type_name.split("::").collect();
    let closures = path
        .iter()
        .rev()
        .take_while(|s| **s == "{{closure}}")
        .count();
    let function = path
        .len()
        .checked_sub(closures + 1)
        .map(|i| path[i])
        .unwrap_or("");
    let by_name: Vec<&TypeLayout> = sized
        .iter()
        .copied()
        .filter(|t| {
            if closures == 1 {
                t.name.starts_with("{async fn body of ")
                    && (t.name.ends_with(&format!("::{function}()}}"))
                        || t.name == format!("{{async fn body of {function}()}}"))
            } else {
                t.name.starts_with("{async block@") || t.name.starts_with("{async closure")
            }
        })
        .collect();
    match (by_name.as_slice(), sized.as_slice()) {
        ([one], _) => Ok(one),
        ([], []) => Err(format!(
            "no async state machine of {size} B in the compiler's layouts (is `{type_name}` \
             compiled in this bench?)"
        )),
        ([], [one]) if !one.name.starts_with("{async fn body of ") => Ok(one),
        (several, _) => Err(format!(
            "{} state machine(s) of {size} B, none of them plainly `{type_name}`: {}",
            several.len().max(sized.len()),
            sized
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn state(v: &Variant) -> State {
    let mut s = State {
        name: v.name.clone(),
        bytes: v.size,
        awaits: v.awaitee().and_then(|a| a.ty.clone()),
        locals: Vec::new(),
        captures: Vec::new(),
        awaitee_bytes: v.awaitee().map_or(0, |a| a.size),
        padding: 0,
    };
    for f in &v.fields {
        match f {
            Field { kind, size, .. } if kind == "padding" => s.padding += size,
            Field { name, .. } if name == "__awaitee" => {}
            Field {
                kind, name, size, ..
            } if kind == "upvar" => s.captures.push((name.clone(), *size)),
            Field { name, size, .. } => s.locals.push((name.clone(), *size)),
        }
    }
    s
}

/// `size_of` of a state machine whose states hold `bytes` each: the largest state and the
/// discriminant, rounded up to the alignment.
fn size_of(bytes: impl Iterator<Item = u64>, discriminant: u64, align: u64) -> u64 {
    let raw = bytes.max().unwrap_or(0) + discriminant;
    raw.div_ceil(align.max(1)) * align.max(1)
}

/// The bill of `future`'s state machine (and of the futures it awaits, from `types`).
pub fn bill(types: &BTreeMap<String, TypeLayout>, future: &TypeLayout) -> FutureBill {
    bill_at(types, future, 0)
}

fn bill_at(types: &BTreeMap<String, TypeLayout>, future: &TypeLayout, depth: usize) -> FutureBill {
    let states: Vec<State> = future.variants.iter().map(state).collect();
    let fattest = states
        .iter()
        .enumerate()
        .max_by_key(|(i, s)| (s.bytes, std::cmp::Reverse(*i)))
        .map_or(0, |(i, _)| i);
    let mut nested = Vec::new();
    if depth < NESTING {
        let mut seen = Vec::new();
        for s in &states {
            if let Some(t) = s.awaits.as_ref().and_then(|a| types.get(a))
                && t.is_async()
                && !seen.contains(&t.name)
            {
                seen.push(t.name.clone());
                nested.push(bill_at(types, t, depth + 1));
            }
        }
    }
    let mut advice = Vec::new();
    if let Some(fat) = states
        .get(fattest)
        .filter(|_| future.variants[fattest].is_await())
    {
        let mut seen: Vec<&str> = Vec::new();
        for (local, bytes) in &fat.locals {
            if seen.contains(&local.as_str()) {
                continue;
            }
            seen.push(local);
            let held_in: Vec<&State> = states
                .iter()
                .filter(|s| s.awaits.is_some() && s.locals.iter().any(|(l, _)| l == local))
                .collect();
            let future_without = size_of(
                states.iter().map(|s| {
                    if held_in.iter().any(|h| h.name == s.name) {
                        s.bytes.saturating_sub(*bytes)
                    } else {
                        s.bytes
                    }
                }),
                future.discriminant,
                future.align,
            );
            if future_without + WORTH <= future.size {
                advice.push(Advice {
                    local: local.clone(),
                    bytes: *bytes,
                    held_across: held_in
                        .iter()
                        .map(|s| {
                            format!(
                                "{} (awaiting {})",
                                s.name,
                                s.awaits.as_deref().unwrap_or("?")
                            )
                        })
                        .collect(),
                    future_without,
                });
            }
        }
        advice.sort_by_key(|a| std::cmp::Reverse(future.size - a.future_without));
    }
    FutureBill {
        name: future.name.clone(),
        size: future.size,
        discriminant: future.discriminant,
        states,
        fattest,
        nested,
        advice,
    }
}

impl FutureBill {
    /// The bill as lines of text, indented by `indent` spaces (nested futures further).
    pub fn lines(&self, indent: usize) -> Vec<String> {
        let pad = " ".repeat(indent);
        let mut out = vec![format!(
            "{pad}{}: {} B ({} B discriminant), {} states",
            self.name,
            self.size,
            self.discriminant,
            self.states.len()
        )];
        for (i, s) in self.states.iter().enumerate() {
            let mut parts: Vec<String> = s
                .captures
                .iter()
                .map(|(name, bytes)| format!("{name} {bytes} B (argument)"))
                .chain(
                    s.locals
                        .iter()
                        .map(|(name, bytes)| format!("{name} {bytes} B")),
                )
                .collect();
            if let Some(a) = &s.awaits {
                parts.push(format!("awaiting {a} {} B", s.awaitee_bytes));
            }
            if s.padding > 0 {
                parts.push(format!("padding {} B", s.padding));
            }
            let mark = if i == self.fattest {
                "  <- fattest"
            } else {
                ""
            };
            out.push(format!(
                "{pad}  {:<10} {:>7} B  {}{mark}",
                s.name,
                s.bytes,
                if parts.is_empty() {
                    "-".to_string()
                } else {
                    parts.join(", ")
                }
            ));
        }
        for a in &self.advice {
            let those = if a.held_across.len() == 1 {
                "that await"
            } else {
                "those awaits"
            };
            out.push(format!(
                "{pad}  change: `{}` ({} B) is held across {}. If it is not needed after \
                 {those}, drop it before (or create it after): the future is {} B instead of \
                 {} B, {} B less per task",
                a.local,
                a.bytes,
                a.held_across.join(", "),
                a.future_without,
                self.size,
                self.size - a.future_without
            ));
        }
        for n in &self.nested {
            out.extend(n.lines(indent + 2));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bill::layout::parse;

    #[test]
    fn the_fattest_state_its_locals_and_the_nested_future_are_found() {
        let types = parse(crate::bill::layout::tests::HANDLER);
        let f = find(&types, "mybench::handler::{{closure}}", 680).unwrap();
        let b = bill(&types, f);
        assert_eq!(b.states[b.fattest].name, "Suspend1");
        assert_eq!(
            b.states[b.fattest].awaits.as_deref(),
            Some("{async fn body of inner()}")
        );
        assert_eq!(b.nested.len(), 1);
        assert_eq!(b.nested[0].size, 136);
        let big = &b.advice[0];
        assert_eq!((big.local.as_str(), big.bytes), ("big", 512));
        assert_eq!(big.held_across.len(), 2);
        // 679 - 512 = 167, + 1 discriminant = 168, a multiple of 8.
        assert_eq!(big.future_without, 168);
        let text = b.lines(0).join("\n");
        assert!(text.contains("<- fattest"), "{text}");
        assert!(text.contains("512 B less per task"), "{text}");
    }

    #[test]
    fn a_future_no_layout_matches_is_said_and_two_that_match_are_named() {
        let types = parse(crate::bill::layout::tests::HANDLER);
        let e = find(&types, "mybench::handler::{{closure}}", 999).unwrap_err();
        assert!(e.contains("no async state machine of 999 B"), "{e}");
        // One of that size, but another function's: not taken for it.
        let e = find(&types, "mybench::other::{{closure}}", 136).unwrap_err();
        assert!(e.contains("{async fn body of inner()}"), "{e}");
    }
}
