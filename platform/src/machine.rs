//! State machines as data: each aggregate lists its allowed `(from, command, to)` triples in one table,
//! and [`transition`] is the only way to compute a next state. Anything not in the table is refused with
//! a reason naming the state and the command.

use std::fmt::Debug;

/// A state or a command of a machine: a closed set of values with a stable upper-case name.
pub trait Named: Copy + Eq + Debug + 'static {
    const ALL: &'static [Self];
    fn name(self) -> &'static str;

    fn parse_name(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == s)
    }
}

/// A state machine described by its transition table.
pub trait Machine {
    /// What the machine is about ("quote", "order", ...), used in refusals.
    const ENTITY: &'static str;
    type State: Named;
    type Command: Named;
    const TABLE: &'static [(Self::State, Self::Command, Self::State)];
    /// States from which nothing moves.
    fn is_terminal(state: Self::State) -> bool {
        !Self::TABLE.iter().any(|(from, _, _)| *from == state)
    }
}

/// The refusal of a transition the table does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entity} in {from} cannot {command}{terminal}")]
pub struct Refusal {
    pub entity: &'static str,
    pub from: &'static str,
    pub command: &'static str,
    terminal: &'static str,
}

pub fn transition<M: Machine>(from: M::State, command: M::Command) -> Result<M::State, Refusal> {
    M::TABLE
        .iter()
        .find(|(f, c, _)| *f == from && *c == command)
        .map(|(_, _, to)| *to)
        .ok_or(Refusal {
            entity: M::ENTITY,
            from: from.name(),
            command: command.name(),
            terminal: if M::is_terminal(from) { " (it is terminal)" } else { "" },
        })
}

/// Declares a `Named` enum with SCREAMING_SNAKE names shared by Rust, SQL and the UI.
#[macro_export]
macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($(#[$vdoc])* #[serde(rename = $text)] $variant),+ }

        impl $crate::machine::Named for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn name(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                $crate::machine::Named::name(self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::machine::Named::name(*self))
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$name as $crate::machine::Named>::parse_name(s).ok_or_else(|| $crate::error::Error::Invalid {
                    field: stringify!($name),
                    message: format!("unknown value {s:?}"),
                })
            }
        }
    };
}

/// Test support: checks a machine against an expected matrix written out by hand. Every
/// `(state, command)` pair is checked — the ones listed must lead where the list says, every other pair
/// must be refused. Panics naming the first pair that disagrees. Also [`crate::testing::assert_matrix`].
#[cfg(any(test, feature = "testing"))]
pub fn assert_matrix<M: Machine>(expected: &[(M::State, M::Command, M::State)])
where
    M::State: std::hash::Hash,
    M::Command: std::hash::Hash,
{
    let mut checked = 0;
    for &from in M::State::ALL {
        for &command in M::Command::ALL {
            let want = expected.iter().find(|(f, c, _)| *f == from && *c == command).map(|t| t.2);
            match (transition::<M>(from, command), want) {
                (Ok(got), Some(want)) => assert_eq!(got, want, "{from:?} --{command:?}-> should be {want:?}"),
                (Err(_), None) => {}
                (Ok(got), None) => panic!("{from:?} --{command:?}-> {got:?} is allowed but should be refused"),
                (Err(r), Some(want)) => panic!("{from:?} --{command:?}-> {want:?} should be allowed: {r}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, M::State::ALL.len() * M::Command::ALL.len());
}
