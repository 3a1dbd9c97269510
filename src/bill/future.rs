//! The future's part of the bill: its state machine, state by state (unresumed, each await,
//! returned), with the locals each state holds and their bytes, the fattest state named by
//! what it awaits, the futures it awaits as rows of their own, and what to change: the locals
//! of the fattest state held across an await, with the bytes a future would shed without
//! them.
//!
//! The source is the compiler's layout ([`super::layout`]), matched to the measured future by
//! its type name (`std::any::type_name`, which taskmem records with each case) and its size.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::layout::{Field, TypeLayout, Variant};

/// One state of a future's state machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advice {
    /// What to change.
    #[serde(default)]
    pub change: Change,
    /// The local (for [`Change::Box`], the awaited future's type).
    pub local: String,
    /// Its bytes.
    pub bytes: u64,
    /// The await points it is held across, each with what it awaits.
    pub held_across: Vec<String>,
    /// The future's size without the local held across those awaits.
    pub future_without: u64,
}

/// The kind of change an [`Advice`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A local held across an await: drop it before the await, or create it after.
    #[default]
    DropBefore,
    /// The awaited future makes the fattest state: box it (`Box::pin(..).await`), so that
    /// its bytes are on the heap only while it is awaited.
    Box,
}

/// A future's state machine, as the bill shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// The least an awaited future must hold for boxing it to be advised: a box costs a
/// pointer in the state and a heap block with its size-class rounding.
const BOX_WORTH: u64 = 128;

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
    // A generic one's arguments (`task<tokio::time::sleep::Sleep, ..>`) are left out of the
    // path, and tell apart its instances below.
    let plain = without_generics(type_name);
    let path: Vec<&str> = plain.split("::").collect();
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
                let name = without_generics(&t.name);
                name.starts_with("{async fn body of ")
                    && (name.ends_with(&format!("::{function}()}}"))
                        || name == format!("{{async fn body of {function}()}}"))
            } else {
                t.name.starts_with("{async block@") || t.name.starts_with("{async closure")
            }
        })
        .collect();
    // Instances of one generic async fn: the one whose arguments name what the type name's
    // do (the last segment of each: `Sleep`, `sleep`; paths differ by re-exports).
    let by_name = if by_name.len() > 1 && plain != type_name {
        let wanted = argument_names(type_name);
        let fitting: Vec<&TypeLayout> = by_name
            .iter()
            .copied()
            .filter(|t| {
                let theirs = identifiers(generics(&t.name));
                wanted.iter().all(|w| theirs.contains(w))
            })
            .collect();
        if fitting.is_empty() { by_name } else { fitting }
    } else {
        by_name
    };
    // One type laid out in two crates (the bench's and the library's that defines it, each
    // naming its own paths its way) is one: the fullest name is taken, the bench's, which
    // names it as the runtime's cell around it does.
    let by_name = match by_name.split_first() {
        Some((first, rest)) if rest.iter().all(|t| same_shape(first, t)) => by_name
            .iter()
            .copied()
            .max_by_key(|t| t.name.len())
            .into_iter()
            .collect(),
        _ => by_name,
    };
    match (by_name.as_slice(), sized.as_slice()) {
        // A future type of its own (`tokio::time::sleep::Sleep`), not an async fn or block.
        _ if closures == 0 => Err(format!(
            "`{type_name}` is a future type of its own ({size} B), not an async fn or block: \
             it has no states to read"
        )),
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

/// Whether two layouts are of one type: the same size and states, each with the same fields
/// of the same sizes (their types' names left out: each crate prints its own paths).
fn same_shape(a: &TypeLayout, b: &TypeLayout) -> bool {
    let fields = |v: &Variant| -> Vec<(String, String, u64)> {
        v.fields
            .iter()
            .map(|f| (f.kind.clone(), f.name.clone(), f.size))
            .collect()
    };
    a.size == b.size
        && a.variants.len() == b.variants.len()
        && a.variants
            .iter()
            .zip(&b.variants)
            .all(|(x, y)| x.name == y.name && x.size == y.size && fields(x) == fields(y))
}

/// `name` without its generic arguments (`a::task<b::C, d>::{{closure}}`:
/// `a::task::{{closure}}`): `<` opens arguments only after a name (or a `{closure#0}`), not a
/// qualified path (`<A as B>`) at the start or after `::`; the `>` of a `->` closes nothing.
pub fn without_generics(name: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut prev = ' ';
    let mut last = ' ';
    for c in name.chars() {
        let arrow = c == '>' && last == '-';
        last = c;
        match c {
            '<' if depth > 0 || prev.is_alphanumeric() || prev == '_' || prev == '}' => depth += 1,
            '>' if depth > 0 && !arrow => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(c),
        }
        if depth == 0 && c != '>' {
            prev = c;
        }
    }
    out
}

/// The text inside the first generic arguments of `name` (`a::task<b::C, d>()`: `b::C, d`).
fn generics(name: &str) -> &str {
    let Some(start) = name
        .char_indices()
        .find(|&(i, c)| c == '<' && name[..i].ends_with(|p: char| p.is_alphanumeric() || p == '_'))
    else {
        return "";
    };
    let mut depth = 0usize;
    let mut last = ' ';
    for (i, c) in name[start.0..].char_indices() {
        let arrow = c == '>' && last == '-';
        last = c;
        match c {
            '<' => depth += 1,
            '>' if !arrow => {
                depth -= 1;
                if depth == 0 {
                    return &name[start.0 + 1..start.0 + i];
                }
            }
            _ => {}
        }
    }
    ""
}

/// The last path segment of each generic argument of a type name (`task<a::b::Sleep,
/// c::sleep>::{{closure}}`: `Sleep`, `sleep`).
fn argument_names(type_name: &str) -> Vec<String> {
    let args = generics(type_name);
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    let mut last = ' ';
    for c in args.chars().chain(std::iter::once(',')) {
        let arrow = c == '>' && last == '-';
        last = c;
        match c {
            '<' | '(' | '[' | '{' => depth += 1,
            '>' if arrow => {}
            '>' | ')' | ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                let arg = without_generics(current.trim());
                if let Some(last) = arg.rsplit("::").next().filter(|l| !l.is_empty()) {
                    out.push(last.to_string());
                }
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out
}

/// Every identifier in `text`.
fn identifiers(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
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

/// The size of `future` with each of its `states` holding `less(index, state)` bytes fewer.
fn size_less(future: &TypeLayout, states: &[State], less: impl Fn(usize, &State) -> u64) -> u64 {
    size_of(
        states.iter().enumerate().map(|(i, s)| s.bytes - less(i, s)),
        future.discriminant,
        future.align,
    )
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
            let future_without = size_less(future, &states, |_, s| {
                if held_in.iter().any(|h| h.name == s.name) {
                    (*bytes).min(s.bytes)
                } else {
                    0
                }
            });
            if future_without + WORTH <= future.size {
                advice.push(Advice {
                    change: Change::DropBefore,
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
        // The awaited future itself, when it is what makes this state the fattest: boxed,
        // the state holds a pointer to it. Only where the tasks can wait in another await
        // (with one await, they wait in this one at the peak, and a box would add to it).
        let awaits = states.iter().filter(|s| s.awaits.is_some()).count();
        if let Some(awaited) = &fat.awaits
            && fat.awaitee_bytes >= BOX_WORTH
            && awaits >= 2
        {
            let pointer = 8;
            let future_without = size_less(future, &states, |i, _| {
                if i == fattest {
                    fat.awaitee_bytes - pointer
                } else {
                    0
                }
            });
            if future_without + WORTH <= future.size {
                advice.push(Advice {
                    change: Change::Box,
                    local: awaited.clone(),
                    bytes: fat.awaitee_bytes,
                    held_across: vec![fat.name.clone()],
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
            if a.change == Change::Box {
                out.push(format!(
                    "{pad}  change: the awaited {} ({} B) makes {} the fattest state. Where the \
                     tasks wait in another state at the peak, box it (`Box::pin(..).await`): the \
                     future is {} B instead of {} B, {} B less per task, and the awaited \
                     future's {} B are on the heap only while it is awaited",
                    a.local,
                    a.bytes,
                    a.held_across.join(", "),
                    a.future_without,
                    self.size,
                    self.size - a.future_without,
                    a.bytes
                ));
                continue;
            }
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
        // The awaited inner() (136 B) makes Suspend1 the fattest; there is another await
        // to wait in, so boxing it is advised, with what it saves.
        let boxed = b
            .advice
            .iter()
            .find(|a| a.change == Change::Box)
            .unwrap_or_else(|| panic!("{:?}", b.advice));
        assert_eq!(boxed.local, "{async fn body of inner()}");
        assert_eq!(boxed.bytes, 136);
        let fat = &b.states[b.fattest];
        let others = b
            .states
            .iter()
            .filter(|s| s.name != fat.name)
            .map(|s| s.bytes)
            .max()
            .unwrap();
        let expect = (others.max(fat.bytes - 136 + 8) + 1).div_ceil(8) * 8;
        assert_eq!(boxed.future_without, expect, "{b:?}");
        let text = b.lines(0).join("\n");
        assert!(text.contains("box it (`Box::pin(..).await`)"), "{text}");
        assert!(text.contains("<- fattest"), "{text}");
        assert!(text.contains("512 B less per task"), "{text}");
    }

    #[test]
    fn an_instance_of_a_generic_async_fn_is_told_apart_by_its_arguments() {
        assert_eq!(
            argument_names(
                "s::payload::task<tokio::time::sleep::Sleep, tokio::time::sleep::sleep>::{{closure}}"
            ),
            ["Sleep", "sleep"]
        );
        assert_eq!(
            without_generics("s::task<a::B<C>, d>::{{closure}}"),
            "s::task::{{closure}}"
        );
        let tokio = "{async fn body of workload::payload::task<tokio::time::Sleep, \
                     fn(std::time::Duration) -> tokio::time::Sleep {tokio::time::sleep}>()}";
        let async_std = "{async fn body of workload::payload::task<{async fn body of \
                         async_std::task::sleep::sleep()}, fn(std::time::Duration) -> impl \
                         std::future::Future<Output = ()> {workload::payload::async_std_sleep}>()}";
        let layout = |name: &str| TypeLayout {
            name: name.into(),
            size: 120,
            align: 8,
            discriminant: 1,
            variants: vec![crate::bill::layout::Variant {
                name: "Suspend0".into(),
                size: 119,
                fields: Vec::new(),
            }],
            end_padding: 0,
        };
        let types = BTreeMap::from([
            (tokio.to_string(), layout(tokio)),
            (async_std.to_string(), layout(async_std)),
        ]);
        let found = find(
            &types,
            "taskmem_suite::workload::payload::task<tokio::time::sleep::Sleep, \
             tokio::time::sleep::sleep>::{{closure}}",
            120,
        )
        .unwrap();
        assert_eq!(found.name, tokio);
    }

    #[test]
    fn one_future_laid_out_by_two_crates_is_one() {
        let types = parse(crate::bill::layout::tests::HANDLER);
        let f = find(&types, "mybench::handler::{{closure}}", 680)
            .unwrap()
            .clone();
        let mut again = f.clone();
        again.name = "{async fn body of mybench::handler()}".into();
        let mut types = types.clone();
        types.insert(again.name.clone(), again);
        assert_eq!(
            find(&types, "mybench::handler::{{closure}}", 680)
                .unwrap()
                .name,
            "{async fn body of mybench::handler()}"
        );
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
