//! Who sees a registered document: a pure rule, the same the lists and
//! the search apply in SQL (`store::visible_to`; `tests/it/edms.rs`
//! checks on random records and people that both say the same). A confidential document is seen only with clearance; the
//! protocol office and those who read every document see the rest; anyone
//! else sees what is in one of their departments, what they registered,
//! and what passed through their hands (charged to them, or by them).

use std::collections::BTreeSet;
use uuid::Uuid;

/// The person looking.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    pub account: Uuid,
    /// How access rules name the person (`account:…`, `taxid:…`).
    pub subjects: Vec<String>,
    pub departments: BTreeSet<String>,
    /// Registers documents (the protocol office).
    pub registrar: bool,
    /// Reads every document (the mayor, the general secretary).
    pub reads_all: bool,
    /// Cleared for confidential documents.
    pub clearance: bool,
}

impl Viewer {
    pub fn sees_all(&self) -> bool {
        self.registrar || self.reads_all
    }
}

/// Where a document stands, as far as seeing it goes.
#[derive(Debug, Clone, Default)]
pub struct Standing<'a> {
    pub confidential: bool,
    pub department: Option<&'a str>,
    pub holder: Option<&'a str>,
    pub registered_by: Uuid,
    /// The subjects it was charged to and the accounts that moved it.
    pub touched_by_accounts: &'a [Uuid],
    pub touched_subjects: &'a [String],
}

pub fn may_see(v: &Viewer, r: &Standing<'_>) -> bool {
    if r.confidential && !v.clearance {
        return false;
    }
    v.sees_all()
        || r.registered_by == v.account
        || r.holder.is_some_and(|h| v.subjects.iter().any(|s| s == h))
        || r.department.is_some_and(|d| v.departments.contains(d))
        || r.touched_by_accounts.contains(&v.account)
        || r.touched_subjects.iter().any(|t| v.subjects.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clerk() -> Viewer {
        Viewer {
            account: Uuid::from_u128(1),
            subjects: vec!["account:1".into(), "taxid:100000040".into()],
            departments: ["technical".to_owned()].into(),
            ..Viewer::default()
        }
    }

    #[test]
    fn confidential_needs_clearance_whoever_looks() {
        let r = Standing {
            confidential: true,
            department: Some("technical"),
            registered_by: Uuid::from_u128(1),
            ..Standing::default()
        };
        let mut v = clerk();
        v.registrar = true;
        v.reads_all = true;
        assert!(!may_see(&v, &r));
        v.clearance = true;
        assert!(may_see(&v, &r));
    }

    #[test]
    fn a_clerk_sees_their_departments_and_what_passed_their_hands() {
        let v = clerk();
        let elsewhere = Standing {
            department: Some("cleaning"),
            registered_by: Uuid::from_u128(9),
            ..Standing::default()
        };
        assert!(!may_see(&v, &elsewhere));
        assert!(may_see(
            &v,
            &Standing {
                department: Some("technical"),
                ..elsewhere.clone()
            }
        ));
        let touched = vec!["taxid:100000040".to_owned()];
        assert!(may_see(
            &v,
            &Standing {
                touched_subjects: &touched,
                ..elsewhere.clone()
            }
        ));
        assert!(may_see(
            &v,
            &Standing {
                holder: Some("taxid:100000040"),
                ..elsewhere.clone()
            }
        ));
        let mut office = clerk();
        office.departments.clear();
        office.registrar = true;
        assert!(may_see(&office, &elsewhere));
    }
}
