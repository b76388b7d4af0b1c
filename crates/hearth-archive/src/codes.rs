//! Coded lists of the domain (causes, grades, statuses, aid kinds, …) with their Chinese and
//! English display labels.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ArchiveError;

/// Defines a coded list: a fieldless enum whose wire form is its snake_case code, with a Chinese
/// and an English label, parsing from the code (or, where given, its number or Chinese label).
macro_rules! code_list {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal, $num:literal, $zh:literal, $en:literal; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* #[doc = concat!($zh, ", ", $en)] $variant, )+
        }

        impl $name {
            /// Every value, in list order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// What this list is called in error messages.
            pub const WHAT: &'static str = $what;

            /// The stable code stored in documents and printed in `--json`.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }

            /// The number of the code in its list (1-based).
            pub fn number(self) -> u8 {
                match self { $($name::$variant => $num,)+ }
            }

            /// The Chinese display label.
            pub fn label_zh(self) -> &'static str {
                match self { $($name::$variant => $zh,)+ }
            }

            /// The English display label.
            pub fn label_en(self) -> &'static str {
                match self { $($name::$variant => $en,)+ }
            }

            /// Code and Chinese label, as shown to people: `deep 深度困难`.
            pub fn label(self) -> String {
                format!("{} {}", self.code(), self.label_zh())
            }

            /// The codes of the list, comma separated, for help and error texts.
            pub fn codes() -> String {
                Self::ALL.iter().map(|v| v.code()).collect::<Vec<_>>().join(", ")
            }
        }

        impl FromStr for $name {
            type Err = ArchiveError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let s = s.trim();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| {
                        v.code().eq_ignore_ascii_case(s)
                            || v.label_zh() == s
                            || s.parse::<u8>().is_ok_and(|n| n == v.number())
                    })
                    .ok_or_else(|| ArchiveError::UnknownCode {
                        what: $what,
                        value: s.to_owned(),
                        expected: Self::codes(),
                    })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

code_list! {
    /// Cause of hardship (致困原因); the number is accepted on input too.
    Cause, "cause" {
        NoWorkAbility = "no_work_ability", 1, "丧失劳动能力", "lost ability to work";
        Unemployed = "unemployed", 2, "失业", "unemployed";
        LaidOff = "laid_off", 3, "下岗", "laid off";
        NoSocialInsurance = "no_social_insurance", 4, "未参保", "not socially insured";
        InsuranceUnpaid = "insurance_unpaid", 5, "社保待遇未落实", "insurance benefits unpaid";
        SeriousIllness = "serious_illness", 6, "大病", "serious illness";
        NaturalDisaster = "natural_disaster", 7, "自然灾害", "natural disaster";
        Accident = "accident", 8, "意外事故", "accident";
        ChildSchooling = "child_schooling", 9, "子女上学", "children's schooling";
        Other = "other", 10, "其他", "other";
    }
}

code_list! {
    /// Hardship grade (困难等级).
    Grade, "grade" {
        Deep = "deep", 1, "深度困难", "deep hardship";
        Relative = "relative", 2, "相对困难", "relative hardship";
        Accident = "accident", 3, "意外致困", "hardship by accident";
        NotEligible = "not_eligible", 4, "不符合条件", "not eligible";
    }
}

code_list! {
    /// Lifecycle status of a case; see [`crate::lifecycle`] for the allowed moves.
    Status, "status" {
        Draft = "draft", 1, "申请", "application";
        UnderReview = "under_review", 2, "审核中", "under review";
        Filed = "filed", 3, "建档", "filed";
        Returned = "returned", 4, "退回", "returned";
        Lifted = "lifted", 5, "脱困", "out of hardship";
        Relapsed = "relapsed", 6, "返困", "relapsed";
        Closed = "closed", 7, "注销", "closed";
    }
}

code_list! {
    /// Kind of assistance (帮扶类型).
    AssistanceKind, "assistance kind" {
        Living = "living", 1, "生活救助", "living allowance";
        Medical = "medical", 2, "医疗救助", "medical aid";
        Education = "education", 3, "金秋助学", "education aid";
        Holiday = "holiday", 4, "节日慰问", "holiday visit aid";
        OneOff = "one_off", 5, "一次性救助", "one-off aid";
        Pairing = "pairing", 6, "结对帮扶", "pairing support";
        Job = "job", 7, "送岗位", "job placement";
        Legal = "legal", 8, "法律援助", "legal aid";
        Emergency = "emergency", 9, "临时救助", "emergency relief";
    }
}

code_list! {
    /// What makes a household not eligible whatever its income (排除条件).
    Exclusion, "exclusion" {
        SecondHome = "second_home", 1, "多套住房", "owns a second home";
        Car = "car", 2, "有机动车", "owns a car";
        BusinessShare = "business_share", 3, "控股企业", "controlling share in a business";
        RefusedVerification = "refused_verification", 4, "拒绝核查", "refused verification";
    }
}

code_list! {
    /// A step of the filing chain recorded at the grassroots (建档流程).
    ChainStep, "chain step" {
        GrassrootsReview = "grassroots_review", 1, "基层审核", "grassroots review";
        CivilCheck = "civil_check", 2, "民政核对", "civil-affairs income check";
        Notice = "notice", 3, "公示", "public notice";
        Objection = "objection", 4, "公示异议", "objection to the notice";
    }
}

code_list! {
    /// What the civil-affairs income check found (民政核对结果).
    CheckResult, "check result" {
        Matched = "matched", 1, "相符", "matched";
        NotMatched = "not_matched", 2, "不符", "not matched";
        NotDone = "not_done", 3, "未核对", "not done";
    }
}

code_list! {
    /// Kind of visit (走访 / 回访).
    VisitKind, "visit kind" {
        Home = "home", 1, "入户走访", "home visit";
        FollowUp = "follow_up", 2, "回访", "follow-up visit";
        Holiday = "holiday", 3, "节日慰问", "holiday visit";
    }
}

code_list! {
    /// Outcome of an annual review (年审).
    ReviewResult, "review result" {
        Confirmed = "confirmed", 1, "维持", "still in hardship";
        Improved = "improved", 2, "好转", "improved";
        LiftRecommended = "lift_recommended", 3, "建议脱困", "recommend lifting";
        CloseRecommended = "close_recommended", 4, "建议注销", "recommend closing";
    }
}

code_list! {
    /// Where money in a fund came from.
    IncomeSource, "income source" {
        Budget = "budget", 1, "预算拨款", "budget allocation";
        Donation = "donation", 2, "社会捐赠", "donation";
        Grant = "grant", 3, "上级补助", "grant from above";
    }
}

code_list! {
    /// A higher level's decision on a reported case (审批).
    Decision, "decision" {
        Approve = "approve", 1, "批准", "approve";
        Return = "return", 2, "退回", "return";
        Reject = "reject", 3, "不予批准", "reject";
    }
}

code_list! {
    /// Gender as recorded on the file.
    Gender, "gender" {
        Male = "male", 1, "男", "male";
        Female = "female", 2, "女", "female";
    }
}

code_list! {
    /// Level of a node in the federation, lowest first.
    Level, "level" {
        Team = "team", 1, "班组", "team";
        Branch = "branch", 2, "基层工会", "branch union";
        Enterprise = "enterprise", 3, "企业工会", "enterprise union";
        Municipal = "municipal", 4, "市总工会", "municipal federation";
        Provincial = "provincial", 5, "省总工会", "provincial federation";
        National = "national", 6, "全国总工会", "national federation";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_parse_by_code_number_and_chinese_label() {
        assert_eq!(
            "serious_illness".parse::<Cause>().unwrap(),
            Cause::SeriousIllness
        );
        assert_eq!("6".parse::<Cause>().unwrap(), Cause::SeriousIllness);
        assert_eq!("大病".parse::<Cause>().unwrap(), Cause::SeriousIllness);
        assert_eq!("10".parse::<Cause>().unwrap(), Cause::Other);
        let err = "11".parse::<Cause>().unwrap_err().to_string();
        assert!(err.starts_with("unknown cause \"11\""), "{err}");
        assert!(err.contains("no_work_ability"), "{err}");
    }

    #[test]
    fn every_code_has_both_labels_and_round_trips() {
        fn check<T: FromStr<Err = ArchiveError> + Copy + PartialEq + fmt::Debug>(
            all: &[T],
            code: fn(T) -> &'static str,
            zh: fn(T) -> &'static str,
            en: fn(T) -> &'static str,
        ) {
            for &v in all {
                assert!(!zh(v).is_empty() && !en(v).is_empty());
                assert_eq!(code(v).parse::<T>().unwrap(), v);
            }
        }
        check(Cause::ALL, Cause::code, Cause::label_zh, Cause::label_en);
        check(Grade::ALL, Grade::code, Grade::label_zh, Grade::label_en);
        check(
            Status::ALL,
            Status::code,
            Status::label_zh,
            Status::label_en,
        );
        check(
            AssistanceKind::ALL,
            AssistanceKind::code,
            AssistanceKind::label_zh,
            AssistanceKind::label_en,
        );
        check(
            VisitKind::ALL,
            VisitKind::code,
            VisitKind::label_zh,
            VisitKind::label_en,
        );
        check(
            ReviewResult::ALL,
            ReviewResult::code,
            ReviewResult::label_zh,
            ReviewResult::label_en,
        );
        check(
            Gender::ALL,
            Gender::code,
            Gender::label_zh,
            Gender::label_en,
        );
        check(Level::ALL, Level::code, Level::label_zh, Level::label_en);
        check(
            Exclusion::ALL,
            Exclusion::code,
            Exclusion::label_zh,
            Exclusion::label_en,
        );
        check(
            ChainStep::ALL,
            ChainStep::code,
            ChainStep::label_zh,
            ChainStep::label_en,
        );
        check(
            CheckResult::ALL,
            CheckResult::code,
            CheckResult::label_zh,
            CheckResult::label_en,
        );
    }

    #[test]
    fn label_shows_code_and_chinese() {
        assert_eq!(Grade::Deep.label(), "deep 深度困难");
        assert!(Level::Team < Level::Municipal);
    }
}
