//! Free text: how long each kind may be, which characters are refused when a person types it,
//! and how text that came from elsewhere is shown without letting it steer a terminal.
//!
//! A person's input is refused if it holds control characters (other than line breaks and tabs
//! in multi-line notes) or the invisible characters that reorder how text is displayed (bidi
//! overrides and isolates): they have no place in a case file and can make a name or a note read
//! as something else. Text that arrives from another node is held to a size bound only (an older
//! node may have stored anything); it is shown through [`escape`].

use std::borrow::Cow;

use crate::error::{ArchiveError, Result};

/// A name of a person (the worker, a visitor, a reviewer, `by`).
pub const NAME: usize = 64;
/// A short label: relation, health, occupation, employer, job, phone.
pub const SHORT: usize = 128;
/// An address.
pub const ADDRESS: usize = 256;
/// A reason or a note of a decision, a status change, an escalation, a payment.
pub const REASON: usize = 500;
/// Visit and review notes, the profile texts.
pub const NOTES: usize = 2000;
/// Largest text field accepted in a document from another node, in bytes: above every limit
/// here, so a newer node that allows longer notes is not refused, and small enough that no
/// document grows without bound.
pub const RECEIVED: usize = 16 * 1024;

/// Whether `c` may not appear in text a person types (see the module doc).
fn refused(c: char, multiline: bool) -> bool {
    let layout = matches!(c, '\n' | '\t' | '\r');
    (c.is_control() && !(multiline && layout)) || is_invisible_format(c)
}

/// Characters that change how the text around them is displayed without showing themselves:
/// bidi marks, embeddings, overrides and isolates, and the Unicode line and paragraph
/// separators.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// Checks one line of text a person typed (a name, a reason, `by`): at most `max` characters,
/// no control or invisible formatting characters.
pub fn check_line(field: &'static str, value: &str, max: usize) -> Result<()> {
    check(field, value, max, false)
}

/// Checks notes a person typed: like [`check_line`], but line breaks and tabs are allowed.
pub fn check_notes(field: &'static str, value: &str, max: usize) -> Result<()> {
    check(field, value, max, true)
}

fn check(field: &'static str, value: &str, max: usize, multiline: bool) -> Result<()> {
    if let Some(c) = value.chars().find(|&c| refused(c, multiline)) {
        return Err(ArchiveError::Invalid {
            field,
            reason: format!(
                "holds the control character U+{:04X}; remove it (copy the text again as plain text)",
                u32::from(c)
            ),
        });
    }
    let count = value.chars().count();
    if count > max {
        return Err(ArchiveError::Invalid {
            field,
            reason: format!("has {count} characters, more than the {max} allowed; shorten it"),
        });
    }
    Ok(())
}

/// Checks an optional text with [`check_line`].
pub fn check_opt_line(field: &'static str, value: Option<&str>, max: usize) -> Result<()> {
    value.map_or(Ok(()), |v| check_line(field, v, max))
}

/// Checks optional notes with [`check_notes`].
pub fn check_opt_notes(field: &'static str, value: Option<&str>, max: usize) -> Result<()> {
    value.map_or(Ok(()), |v| check_notes(field, v, max))
}

/// Text for a terminal or a table: control and invisible formatting characters are shown as
/// `\u{…}` escapes (line breaks and tabs too, so one cell stays one line), everything else as
/// it is. Borrowed when there is nothing to escape, which is almost always.
pub fn escape(value: &str) -> Cow<'_, str> {
    if !value.chars().any(|c| refused(c, false)) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if refused(c, false) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Like [`escape`], for whole lines of output: line breaks and tabs are kept.
pub fn escape_keeping_lines(value: &str) -> Cow<'_, str> {
    let bad = |c: char| refused(c, true);
    if !value.chars().any(bad) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if bad(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether a character is one [`escape`] shows as an escape (control or invisible formatting):
/// for writers of other formats (JSON) that escape it their own way.
pub fn is_unsafe_to_show(c: char) -> bool {
    refused(c, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_refused_and_escaped() {
        check_line("name", "王建国", NAME).unwrap();
        check_notes("notes", "两个孩子上学\n\t住院两次", NOTES).unwrap();
        for bad in ["a\0b", "a\u{1b}[31mb", "evil\u{202E}txt.exe", "x\u{2066}y"] {
            let e = check_line("notes", bad, NOTES).unwrap_err().to_string();
            assert!(e.contains("control character U+"), "{e}");
            assert!(check_notes("notes", bad, NOTES).is_err());
        }
        assert!(check_line("name", "a\nb", NAME).is_err());
        let long = "字".repeat(NAME + 1);
        let e = check_line("name", &long, NAME).unwrap_err().to_string();
        assert!(e.contains("65 characters, more than the 64"), "{e}");
        assert_eq!(escape("plain 文本"), "plain 文本");
        assert_eq!(
            escape("a\u{1b}[2Jb\u{202E}c\n"),
            "a\\u{1b}[2Jb\\u{202e}c\\u{a}"
        );
    }
}
