//! The action names the interactive mode completes, and the documented
//! parameters `ami send` checks: both from `ami-types`, generated from
//! Asterisk's own XML documentation.

use std::sync::OnceLock;

use ami_types::ActionSpec;

/// The action names to complete, in Asterisk's spelling.
pub fn action_names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        ami_types::actions::ACTION_SPECS
            .iter()
            .map(|spec| spec.name)
            .collect()
    })
}

/// The documented parameters of `action`, one per line, required ones marked;
/// `None` for an action the documentation does not know.
pub fn describe(action: &str) -> Option<String> {
    let spec = ActionSpec::find(action)?;
    let mut text = format!("{} parameters (* required):\n", spec.name);
    for param in spec.params {
        let mark = if param.required { "*" } else { " " };
        text.push_str(&format!("  {mark} {}", param.name));
        if let Some(default) = param.default {
            text.push_str(&format!(" (default {default})"));
        }
        text.push('\n');
    }
    Some(text)
}

/// The documented required parameters of `action` missing from `given`
/// (header names, ASCII case-insensitive). An unknown action has none: the
/// model never refuses what it does not know.
pub fn missing_required(action: &str, given: &[&str]) -> Vec<&'static str> {
    let Some(spec) = ActionSpec::find(action) else {
        return Vec::new();
    };
    spec.params
        .iter()
        .filter(|p| p.required && !given.iter().any(|g| g.eq_ignore_ascii_case(p.name)))
        .map(|p| p.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_generated_model() {
        assert!(action_names().contains(&"Originate"));
        assert!(action_names().len() >= 150);
    }

    #[test]
    fn originate_needs_its_channel() {
        assert_eq!(missing_required("originate", &[]), ["Channel"]);
        assert!(missing_required("Originate", &["channel"]).is_empty());
        assert!(missing_required("NoSuchAction", &[]).is_empty());
        let text = describe("Originate").unwrap();
        assert!(text.contains("* Channel"), "{text}");
    }
}
