use super::{Discount, LimitValue, ParseError, amounts::shorten};
use serde::{Deserialize, Serialize};

/// What an admin can allow or forbid a reseller. Each maps to one column of a template and one
/// nullable column of the reseller's overrides, so two admins changing two permissions at once
/// never overwrite each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    CanCreateUsers,
    CanEditUsers,
    CanDeleteUsers,
    CanExtendUsers,
    CanResetTokens,
    CanViewUsers,
    CanViewStatistics,
    CanViewConnections,
    CanViewLogs,
    CanBulkOperations,
    CanApiAccess,
    CanCustomizeBranding,
    /// Stored and shown now; sub-resellers themselves come later.
    CanCreateSubresellers,
}

impl Permission {
    pub const ALL: [Permission; 13] = [
        Permission::CanCreateUsers,
        Permission::CanEditUsers,
        Permission::CanDeleteUsers,
        Permission::CanExtendUsers,
        Permission::CanResetTokens,
        Permission::CanViewUsers,
        Permission::CanViewStatistics,
        Permission::CanViewConnections,
        Permission::CanViewLogs,
        Permission::CanBulkOperations,
        Permission::CanApiAccess,
        Permission::CanCustomizeBranding,
        Permission::CanCreateSubresellers,
    ];

    /// The column name, which is also the name admins type.
    pub fn column(self) -> &'static str {
        match self {
            Permission::CanCreateUsers => "can_create_users",
            Permission::CanEditUsers => "can_edit_users",
            Permission::CanDeleteUsers => "can_delete_users",
            Permission::CanExtendUsers => "can_extend_users",
            Permission::CanResetTokens => "can_reset_tokens",
            Permission::CanViewUsers => "can_view_users",
            Permission::CanViewStatistics => "can_view_statistics",
            Permission::CanViewConnections => "can_view_connections",
            Permission::CanViewLogs => "can_view_logs",
            Permission::CanBulkOperations => "can_bulk_operations",
            Permission::CanApiAccess => "can_api_access",
            Permission::CanCustomizeBranding => "can_customize_branding",
            Permission::CanCreateSubresellers => "can_create_subresellers",
        }
    }

    /// What the permission allows, to finish “You are not allowed to …”.
    fn describe(self) -> &'static str {
        match self {
            Permission::CanCreateUsers => "create subscribers",
            Permission::CanEditUsers => "edit subscribers",
            Permission::CanDeleteUsers => "delete subscribers",
            Permission::CanExtendUsers => "extend subscribers",
            Permission::CanResetTokens => "reset subscribers' passwords",
            Permission::CanViewUsers => "view subscribers",
            Permission::CanViewStatistics => "view statistics",
            Permission::CanViewConnections => "view connections",
            Permission::CanViewLogs => "view logs",
            Permission::CanBulkOperations => "run bulk operations",
            Permission::CanApiAccess => "use the API",
            Permission::CanCustomizeBranding => "customize branding",
            Permission::CanCreateSubresellers => "create sub-resellers",
        }
    }

    pub fn parse(s: &str) -> Result<Permission, ParseError> {
        let s = s.trim().to_ascii_lowercase();
        let wanted = if s.starts_with("can_") {
            s.clone()
        } else {
            format!("can_{s}")
        };
        Permission::ALL
            .into_iter()
            .find(|p| p.column() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = Permission::ALL.iter().map(|p| p.column()).collect();
                ParseError(format!(
                    "“{}” is not a permission. Use one of: {}.",
                    shorten(&s),
                    names.join(", ")
                ))
            })
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// A numeric cap a template sets and an admin may override per reseller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    MaxUsers,
    MaxConnectionsPerUser,
    /// Trial subscribers a reseller may create per 24 hours (`/trial`, see `ops::trial`).
    /// "Trials only" (the Trial template) is `can_create_users` and `can_extend_users` off with
    /// a quota here: trials check this quota where paid creations check the permission.
    TrialQuota,
    /// How deep a reseller's sub-resellers may nest: stored now, used by sub-resellers to come.
    SubresellerDepth,
}

impl Limit {
    pub const ALL: [Limit; 4] = [
        Limit::MaxUsers,
        Limit::MaxConnectionsPerUser,
        Limit::TrialQuota,
        Limit::SubresellerDepth,
    ];

    pub fn column(self) -> &'static str {
        match self {
            Limit::MaxUsers => "max_users",
            Limit::MaxConnectionsPerUser => "max_connections_per_user",
            Limit::TrialQuota => "trial_quota",
            Limit::SubresellerDepth => "subreseller_depth",
        }
    }

    fn range(self) -> (i64, i64) {
        match self {
            Limit::MaxUsers => (0, 1_000_000),
            Limit::MaxConnectionsPerUser => (1, 100),
            Limit::TrialQuota => (0, 100_000),
            Limit::SubresellerDepth => (0, 5),
        }
    }

    pub fn parse(s: &str) -> Result<Limit, ParseError> {
        let s = s.trim().to_ascii_lowercase();
        if s == "max_connections" {
            return Ok(Limit::MaxConnectionsPerUser);
        }
        Limit::ALL
            .into_iter()
            .find(|l| l.column() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Limit::ALL.iter().map(|l| l.column()).collect();
                ParseError(format!(
                    "“{}” is not a limit. Use one of: {}.",
                    shorten(&s),
                    names.join(", ")
                ))
            })
    }

    /// Parses a value for this limit, refusing anything outside its range.
    pub fn value(self, s: &str) -> Result<LimitValue, ParseError> {
        let (min, max) = self.range();
        let s = s.trim();
        match s.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(LimitValue(n)),
            _ => Err(ParseError(format!(
                "{} must be a whole number from {min} to {max}; you gave “{}”.",
                self.column(),
                shorten(s)
            ))),
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.column())
    }
}

/// One setting of a template, as admins write it: `can_delete_users=on`, `max_users=100`,
/// `trial_cost=2`, `discount=10%`. The last two are the template's only: a reseller has no
/// override of the trial cost, and their own discount is set with `/price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Permission(Permission, bool),
    Limit(Limit, LimitValue),
    /// Credits a trial costs a reseller on the template, 0 (free) to [`TRIAL_COST_MAX`].
    TrialCost(LimitValue),
    /// The template's discount on every package.
    Discount(Discount),
}

/// The most a trial may cost: a trial lasts at most 72 hours, and a credit buys a day.
pub const TRIAL_COST_MAX: i64 = 3;

impl Setting {
    pub fn parse(s: &str) -> Result<Setting, ParseError> {
        let Some((name, value)) = s.split_once('=') else {
            return Err(ParseError(format!(
                "“{}” is not a setting; write it as name=value, e.g. can_delete_users=on or max_users=100.",
                shorten(s)
            )));
        };
        if let Ok(limit) = Limit::parse(name) {
            return Ok(Setting::Limit(limit, limit.value(value)?));
        }
        match name.trim().to_ascii_lowercase().as_str() {
            "trial_cost" | "trial_cost_credits" => {
                return match value.trim().parse::<i64>() {
                    Ok(n) if (0..=TRIAL_COST_MAX).contains(&n) => {
                        Ok(Setting::TrialCost(LimitValue(n)))
                    }
                    _ => Err(ParseError(format!(
                        "trial_cost must be a whole number of credits from 0 to {TRIAL_COST_MAX}; you gave “{}”.",
                        shorten(value.trim())
                    ))),
                };
            }
            "discount" | "discount_percent" => {
                return Ok(Setting::Discount(Discount::parse(value)?));
            }
            _ => {}
        }
        let permission = Permission::parse(name)?;
        Ok(Setting::Permission(permission, parse_switch(value)?))
    }

    /// The column of the template (and of the overrides) this setting writes.
    pub fn column(self) -> &'static str {
        match self {
            Setting::Permission(p, _) => p.column(),
            Setting::Limit(l, _) => l.column(),
            Setting::TrialCost(_) => "trial_cost_credits",
            Setting::Discount(_) => "discount_percent",
        }
    }

    /// The stored value: 0/1 for a permission.
    pub fn value(self) -> i64 {
        match self {
            Setting::Permission(_, on) => i64::from(on),
            Setting::Limit(_, v) | Setting::TrialCost(v) => v.get(),
            Setting::Discount(d) => d.percent(),
        }
    }
}

/// `on`/`off` (or yes/no, true/false), as admins type a permission's state.
pub fn parse_switch(s: &str) -> Result<bool, ParseError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" => Ok(true),
        "off" | "no" | "false" => Ok(false),
        other => Err(ParseError(format!(
            "“{}” is neither on nor off.",
            shorten(other)
        ))),
    }
}

/// A template's name, the one word admins type: 1 to 32 lower-case letters, digits, `_` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TemplateName(String);

impl TemplateName {
    pub fn parse(s: &str) -> Result<TemplateName, ParseError> {
        let lower = s.trim().to_ascii_lowercase();
        let ok = (1..=32).contains(&lower.chars().count())
            && lower
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if ok {
            Ok(TemplateName(lower))
        } else {
            Err(ParseError(format!(
                "“{}” is not a template name: use 1 to 32 letters, digits, _ or -.",
                shorten(s.trim())
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TemplateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_parse_with_or_without_prefix() {
        assert_eq!(
            Permission::parse("can_delete_users").unwrap(),
            Permission::CanDeleteUsers
        );
        assert_eq!(
            Permission::parse("DELETE_USERS").unwrap(),
            Permission::CanDeleteUsers
        );
        assert!(
            Permission::parse("fly")
                .unwrap_err()
                .0
                .contains("can_create_users")
        );
    }

    #[test]
    fn limits_check_their_range() {
        assert_eq!(Limit::MaxUsers.value("0").unwrap().get(), 0);
        assert!(
            Limit::MaxConnectionsPerUser
                .value("0")
                .unwrap_err()
                .0
                .contains("from 1 to 100")
        );
        assert!(Limit::MaxUsers.value("-1").is_err());
        assert!(Limit::MaxUsers.value("lots").is_err());
        assert!(
            Limit::SubresellerDepth
                .value("9")
                .unwrap_err()
                .0
                .contains("from 0 to 5; you gave “9”")
        );
    }

    #[test]
    fn settings_parse_as_name_equals_value() {
        assert_eq!(
            Setting::parse("delete_users=on").unwrap(),
            Setting::Permission(Permission::CanDeleteUsers, true)
        );
        assert_eq!(
            Setting::parse("trial_quota=25").unwrap(),
            Setting::Limit(Limit::TrialQuota, LimitValue(25))
        );
        assert!(
            Setting::parse("max_users")
                .unwrap_err()
                .0
                .contains("name=value")
        );
        assert!(
            Setting::parse("can_api_access=maybe")
                .unwrap_err()
                .0
                .contains("neither on nor off")
        );
        assert_eq!(
            Setting::parse("trial_cost=2").unwrap(),
            Setting::TrialCost(LimitValue(2))
        );
        assert!(
            Setting::parse("trial_cost=-1")
                .unwrap_err()
                .0
                .contains("from 0 to 3; you gave “-1”")
        );
        assert_eq!(Setting::parse("discount=10%").unwrap().value(), 10);
        assert!(
            Setting::parse("discount=95%")
                .unwrap_err()
                .0
                .contains("from 0% to 90%; you gave “95%”")
        );
        assert!(TemplateName::parse("Gold").is_ok());
        assert!(TemplateName::parse("gold plus").is_err());
    }
}
