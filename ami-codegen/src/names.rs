//! Rust names from AMI names.

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "do", "dyn", "else",
    "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop",
    "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return", "self",
    "static", "struct", "super", "trait", "true", "try", "type", "typeof", "unsafe", "unsized",
    "use", "virtual", "where", "while", "yield",
];

/// `CallerIDNum` -> `caller_id_num`, `Cause-txt` -> `cause_txt`, `DAHDIChannel` ->
/// `dahdi_channel`, `Async` -> `async_`.
pub fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            out.push('_');
            continue;
        }
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    let mut collapsed = String::new();
    for part in out.split('_').filter(|p| !p.is_empty()) {
        if !collapsed.is_empty() {
            collapsed.push('_');
        }
        collapsed.push_str(part);
    }
    if collapsed.is_empty() || collapsed.starts_with(|c: char| c.is_ascii_digit()) {
        collapsed.insert_str(0, "n_");
    }
    if KEYWORDS.contains(&collapsed.as_str()) {
        collapsed.push('_');
    }
    collapsed
}

/// `RINGING` -> `Ringing`, `Not in use` -> `NotInUse`, `-1` -> `Minus1`, `0` -> `V0`.
pub fn camel(value: &str) -> String {
    let negative = value.starts_with('-');
    let mut out = String::new();
    for word in snake(value).trim_end_matches('_').split('_') {
        if word == "n" && out.is_empty() {
            continue;
        }
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if negative {
        out.insert_str(0, "Minus");
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

/// A type name from an AMI name: kept as spelled when it is an identifier,
/// otherwise `AOC-D` -> `AOCD`.
pub fn ident(name: &str) -> String {
    let mut out = String::new();
    let mut upper_next = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(if upper_next {
                c.to_ascii_uppercase()
            } else {
                c
            });
            upper_next = false;
        } else {
            upper_next = true;
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

/// A type name: `DialState` + `DialStatus`; AMI names keep their spelling.
pub fn type_name(owner: &str, param: &str) -> String {
    let mut name = ident(owner);
    name.push_str(&camel(param));
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake("CallerIDNum"), "caller_id_num");
        assert_eq!(snake("Cause-txt"), "cause_txt");
        assert_eq!(snake("DAHDIChannel"), "dahdi_channel");
        assert_eq!(snake("Uniqueid"), "uniqueid");
        assert_eq!(snake("Async"), "async_");
        assert_eq!(snake("Action-000000"), "action_000000");
        assert_eq!(snake("100rel"), "n_100rel");
        assert_eq!(camel("RINGING"), "Ringing");
        assert_eq!(camel("Not in use"), "NotInUse");
        assert_eq!(camel("-1"), "Minus1");
        assert_eq!(camel("0"), "V0");
        assert_eq!(camel("MD5"), "Md5");
        assert_eq!(camel("CallFwdUnconditional"), "CallFwdUnconditional");
        assert_eq!(ident("AOC-D"), "AOCD");
        assert_eq!(type_name("DialState", "DialStatus"), "DialStateDialStatus");
    }
}
