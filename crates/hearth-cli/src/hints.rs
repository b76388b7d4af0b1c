//! What the command line adds to errors: the operations say what is wrong in domain words (a
//! web or API client has no flags); here each phrase that a flag or command answers gets that
//! flag or command beside it.

/// (the message must say this, after this phrase, add this hint).
const HINTS: &[(&str, &str, &str)] = &[
    ("", "the worker's name", "--name"),
    ("", "needs a description of the cause", "--other-cause TEXT"),
    ("cannot be filed yet", "name,", "--name"),
    ("cannot be filed yet", "identity number", "--id-number"),
    ("cannot be filed yet", "household size", "--household-size"),
    ("cannot be filed yet", "annual income", "--annual-income"),
    ("cannot be filed yet", "rigid spending", "--rigid-spending"),
    (
        "cannot be filed yet",
        "subsistence line",
        "--subsistence-line",
    ),
    ("cannot be filed yet", "primary cause", "--primary-cause"),
    ("", "set them by editing the case", "`hearth case edit`"),
    ("", "showing the case lists them", "`hearth case show`"),
    ("", "say which to report to", "--via ID"),
    ("is not a parent", "is not a parent", "--via"),
    ("", "add one as a peer first", "`hearth peer add`"),
    ("", "record income first", "`hearth fund income`"),
    ("", "name the node that pays", "--paying-node"),
    ("", "grants go to children", "`hearth peer list`"),
    (
        "",
        "the conflict list shows them",
        "`hearth conflicts list`",
    ),
    ("", "showing it says how", "`hearth conflicts show ID`"),
    ("", "merging into the case to keep", "--merge-into CASE"),
    (
        "",
        "keep one side or write a value",
        "--pick N or --value V",
    ),
    ("", "acknowledge it with a note", "--acknowledge --note …"),
    ("", "pick a side from 1", "--pick"),
    ("", "returned or rejected, in a note", "--note"),
    ("", "no change is needed, in a note", "--note"),
    ("", "name the one repaid", "--loan ID"),
    (
        "",
        "setting the grade again with a reason",
        "`hearth case grade ID --set … --reason …`",
    ),
    ("", "or by clearing the override", "--clear"),
    (
        "(one household, one file)",
        "already exists here: ",
        "`hearth case show`",
    ),
];

/// `line` with the command line's hints added after the phrases they answer.
pub fn with_hints(line: &str) -> String {
    let mut out = line.to_owned();
    for (context, phrase, hint) in HINTS {
        if !out.contains(context) || out.contains(hint) {
            continue;
        }
        if let Some(at) = out.find(phrase) {
            let end = at + phrase.len();
            let (phrase_part, rest) = out.split_at(end);
            let trimmed = phrase_part.trim_end_matches([',', ' ']);
            let tail = &phrase_part[trimmed.len()..];
            out = format!("{trimmed} ({hint}){tail}{rest}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_message_gets_the_flags_that_answer_it() {
        assert_eq!(
            with_hints("a new case needs at least the worker's name"),
            "a new case needs at least the worker's name (--name)"
        );
        assert_eq!(
            with_hints(
                "case cannot be filed yet: missing name, household size; set them by editing the case"
            ),
            "case cannot be filed yet: missing name (--name), household size (--household-size); set them by editing the case (`hearth case edit`)"
        );
        assert_eq!(with_hints("nothing to add"), "nothing to add");
    }
}
