//! The case lifecycle: which status may follow which (DESIGN §2), and nothing else.
//!
//! ```text
//! draft ──► under_review ──► filed ──► lifted ──► relapsed ──► filed
//!   │            │   ▲         │  │       │          │ └──► under_review
//!   │            ▼   │         │  ▼       ▼          ▼
//!   │         returned ◄───────┘ closed ◄─┴──────────┘
//!   └──────────► closed  (withdrawn, rejected, retired, moved, died, merged)
//! ```

use crate::codes::Status;
use crate::error::{ArchiveError, Result};

/// The statuses a case may move to from `from`.
pub fn allowed_from(from: Status) -> &'static [Status] {
    use Status::*;
    match from {
        Draft => &[UnderReview, Closed],
        UnderReview => &[Filed, Returned, Closed],
        Returned => &[UnderReview, Closed],
        Filed => &[Lifted, Returned, Closed],
        Lifted => &[Relapsed, Closed],
        Relapsed => &[Filed, UnderReview, Closed],
        Closed => &[],
    }
}

/// Checks one move.
pub fn check(from: Status, to: Status) -> Result<()> {
    let allowed = allowed_from(from);
    if allowed.contains(&to) {
        return Ok(());
    }
    let allowed = if allowed.is_empty() {
        "nothing, it is final".to_owned()
    } else {
        allowed
            .iter()
            .map(|s| s.code())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(ArchiveError::Transition { from, to, allowed })
}

/// The moves that put a case on file from `from`: straight to `filed` where allowed, otherwise
/// through `under_review` (a caseworker who files a draft has reviewed it).
pub fn path_to_filed(from: Status) -> Result<Vec<Status>> {
    if check(from, Status::Filed).is_ok() {
        Ok(vec![Status::Filed])
    } else if from != Status::Filed && check(from, Status::UnderReview).is_ok() {
        Ok(vec![Status::UnderReview, Status::Filed])
    } else {
        check(from, Status::Filed).map(|()| Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_designed_path_is_allowed() {
        check(Status::Draft, Status::UnderReview).unwrap();
        check(Status::UnderReview, Status::Filed).unwrap();
        check(Status::Filed, Status::Lifted).unwrap();
        check(Status::Lifted, Status::Relapsed).unwrap();
        check(Status::Relapsed, Status::Filed).unwrap();
        check(Status::Filed, Status::Returned).unwrap();
        check(Status::Returned, Status::UnderReview).unwrap();
        check(Status::Filed, Status::Closed).unwrap();
    }

    #[test]
    fn shortcuts_and_resurrections_are_refused() {
        let err = check(Status::Draft, Status::Lifted)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "cannot move a case from draft to lifted; from draft it may go to: under_review, closed"
        );
        assert!(
            check(Status::Closed, Status::Filed)
                .unwrap_err()
                .to_string()
                .contains("final")
        );
        assert!(check(Status::Filed, Status::Filed).is_err());
        assert!(check(Status::Lifted, Status::Filed).is_err());
    }

    #[test]
    fn filing_goes_through_review_from_a_draft() {
        assert_eq!(
            path_to_filed(Status::Draft).unwrap(),
            [Status::UnderReview, Status::Filed]
        );
        assert_eq!(path_to_filed(Status::UnderReview).unwrap(), [Status::Filed]);
        assert!(path_to_filed(Status::Filed).is_err());
        assert!(path_to_filed(Status::Closed).is_err());
        assert!(path_to_filed(Status::Lifted).is_err());
    }
}
