//! Shell variables: each has a value and an exported flag. Exported variables make the
//! environment of the programs the shell starts (`NAME=value` strings).

use alloc::borrow::ToOwned;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::parse::is_name;

#[derive(Clone, Debug, Default)]
pub struct Vars {
    map: BTreeMap<String, Var>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Var {
    value: String,
    exported: bool,
}

impl Vars {
    pub fn new() -> Self {
        Self::default()
    }

    /// Variables from an environment (`NAME=value` entries, all exported). Entries without
    /// `=` or with a bad name are skipped; a later entry wins over an earlier one.
    pub fn from_env<'a>(env: impl IntoIterator<Item = &'a str>) -> Self {
        let mut vars = Vars::new();
        for entry in env {
            if let Some((name, value)) = entry.split_once('=') {
                if is_name(name) {
                    vars.export(name, Some(value));
                }
            }
        }
        vars
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(|v| v.value.as_str())
    }

    pub fn is_exported(&self, name: &str) -> bool {
        self.map.get(name).is_some_and(|v| v.exported)
    }

    /// Sets `name` (keeping its exported flag). The caller checks the name.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.map.get_mut(name) {
            Some(v) => value.clone_into(&mut v.value),
            None => {
                self.map.insert(
                    name.into(),
                    Var {
                        value: value.into(),
                        exported: false,
                    },
                );
            }
        }
    }

    /// Marks `name` exported, setting it first when `value` is given. `export NAME` of an
    /// unset name exports an empty value, as `sh` shows it to children only once set; here
    /// it is simply set to the empty string.
    pub fn export(&mut self, name: &str, value: Option<&str>) {
        let v = self.map.entry(name.into()).or_insert(Var {
            value: String::new(),
            exported: true,
        });
        v.exported = true;
        if let Some(value) = value {
            value.clone_into(&mut v.value);
        }
    }

    /// Removes `name`; true if it was set.
    pub fn unset(&mut self, name: &str) -> bool {
        self.map.remove(name).is_some()
    }

    /// The environment for a program: every exported variable as `NAME=value`, sorted by
    /// name, with `overrides` (a command's own `NAME=value` prefixes) replacing or adding.
    pub fn environ(&self, overrides: &[(String, String)]) -> Vec<String> {
        let mut env: BTreeMap<&str, &str> = self
            .map
            .iter()
            .filter(|(_, v)| v.exported)
            .map(|(k, v)| (k.as_str(), v.value.as_str()))
            .collect();
        for (k, v) in overrides {
            env.insert(k, v);
        }
        env.into_iter()
            .map(|(k, v)| {
                let mut s = String::with_capacity(k.len() + v.len() + 1);
                s.push_str(k);
                s.push('=');
                s.push_str(v);
                s
            })
            .collect()
    }

    /// Every variable as `(name, value, exported)`, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, bool)> {
        self.map
            .iter()
            .map(|(k, v)| (k.as_str(), v.value.as_str(), v.exported))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_round_trip() {
        let vars = Vars::from_env(["PATH=/bin", "HOME=/", "BAD", "1X=y", "E=", "A=b=c"]);
        assert_eq!(vars.get("PATH"), Some("/bin"));
        assert_eq!(vars.get("E"), Some(""));
        assert_eq!(vars.get("A"), Some("b=c"));
        assert_eq!(vars.get("BAD"), None);
        assert_eq!(vars.get("1X"), None);
        assert_eq!(vars.environ(&[]), ["A=b=c", "E=", "HOME=/", "PATH=/bin"]);
    }

    #[test]
    fn shell_variables_are_not_exported_until_export() {
        let mut vars = Vars::new();
        vars.set("X", "1");
        assert_eq!(vars.get("X"), Some("1"));
        assert!(vars.environ(&[]).is_empty());
        vars.export("X", None);
        assert_eq!(vars.environ(&[]), ["X=1"]);
        // Setting keeps the flag.
        vars.set("X", "2");
        assert_eq!(vars.environ(&[]), ["X=2"]);
        vars.export("Y", Some("3"));
        vars.export("Z", None);
        assert_eq!(vars.environ(&[]), ["X=2", "Y=3", "Z="]);
        assert!(vars.unset("X"));
        assert!(!vars.unset("X"));
        assert_eq!(vars.get("X"), None);
        assert_eq!(vars.environ(&[]), ["Y=3", "Z="]);
    }

    #[test]
    fn overrides_replace_and_add() {
        let mut vars = Vars::from_env(["A=1", "B=2"]);
        vars.set("LOCAL", "x");
        let o = [("B".into(), "9".into()), ("C".into(), "3".into())];
        assert_eq!(vars.environ(&o), ["A=1", "B=9", "C=3"]);
        // The shell's own variables are untouched.
        assert_eq!(vars.get("B"), Some("2"));
        assert_eq!(vars.get("C"), None);
    }
}
