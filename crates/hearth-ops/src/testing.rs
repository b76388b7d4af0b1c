//! What the unit tests of the operations share: a node in a small federation, a fixed clock and
//! counted ids, over [`crate::MemoryCases`].

use hearth_archive::{FederationSalt, Level};

use crate::{CountingIds, Ctx, MemoryCases, Place};

/// A team node under a branch, on 2026-06-15 at noon in Shanghai.
#[derive(Debug)]
pub struct Fixture {
    pub place: Place,
    pub salt: FederationSalt,
    pub now: jiff::Zoned,
    pub ids: CountingIds,
    /// The person at the node.
    pub by: &'static str,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture {
            place: Place {
                node_id: "demo.team-1".into(),
                level: Level::Team,
                parents: vec!["demo.branch".into()],
                children: Vec::new(),
            },
            salt: FederationSalt::from_bytes([7; 32]),
            now: jiff::civil::date(2026, 6, 15)
                .at(12, 0, 0, 0)
                .in_tz("Asia/Shanghai")
                .expect("a fixed time in a known zone"),
            ids: CountingIds::default(),
            by: "张敏",
        }
    }

    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            place: &self.place,
            salt: &self.salt,
            by: self.by,
            now: &self.now,
            ids: &self.ids,
        }
    }

    pub fn cases(&self) -> MemoryCases {
        MemoryCases::new(&self.place.node_id, self.now.date())
    }
}
