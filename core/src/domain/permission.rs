use super::{LimitValue, ParseError, amounts::shorten};
use serde::{Deserialize, Serialize};

/// What an admin can allow or forbid a reseller. Each maps to one boolean column on `resellers`,
/// so two admins changing two permissions at once never overwrite each other.
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
}

impl Permission {
    pub const ALL: [Permission; 12] = [
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

/// A numeric cap an admin sets per reseller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    MaxUsers,
    MaxConnectionsPerUser,
}

impl Limit {
    pub fn column(self) -> &'static str {
        match self {
            Limit::MaxUsers => "max_users",
            Limit::MaxConnectionsPerUser => "max_connections_per_user",
        }
    }

    fn range(self) -> (i64, i64) {
        match self {
            Limit::MaxUsers => (0, 1_000_000),
            Limit::MaxConnectionsPerUser => (1, 100),
        }
    }

    pub fn parse(s: &str) -> Result<Limit, ParseError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "max_users" => Ok(Limit::MaxUsers),
            "max_connections_per_user" | "max_connections" => Ok(Limit::MaxConnectionsPerUser),
            other => Err(ParseError(format!(
                "“{}” is not a limit. Use max_users or max_connections_per_user.",
                shorten(other)
            ))),
        }
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
    }
}
