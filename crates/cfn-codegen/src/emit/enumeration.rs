//! Enums of a property's allowed values: they serialize, deserialize, parse (`FromStr`)
//! and print (`Display`) with the CloudFormation spelling.

use super::doc_lines;
use crate::model::EnumItem;

/// The enum, its `ALL` list and `as_str`, and its conversions.
pub fn enum_code(item: &EnumItem) -> String {
    let name = &item.name;
    let mut variants = String::new();
    let mut arms = String::new();
    let mut all = Vec::new();
    for v in &item.variants {
        let (variant, value) = (&v.name, &v.value);
        variants.push_str(&format!(
            "/// `{value}`\n#[serde(rename = {value:?})]\n{variant},\n"
        ));
        arms.push_str(&format!("{name}::{variant} => {value:?},\n"));
        all.push(format!("{name}::{variant}"));
    }
    let mut code = doc_lines(&item.doc);
    code.push_str(&format!(
        "#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]\n\
         pub enum {name} {{\n{variants}}}\n\n"
    ));
    code.push_str(&format!(
        "impl {name} {{\n/// Every allowed value.\npub const ALL: &'static [{name}] = &[{}];\n\n\
         /// The value as CloudFormation spells it.\n\
         pub fn as_str(self) -> &'static str {{\nmatch self {{\n{arms}}}\n}}\n}}\n\n",
        all.join(", ")
    ));
    code.push_str(&format!(
        "impl std::str::FromStr for {name} {{\ntype Err = crate::UnknownValue;\n\n\
         fn from_str(text: &str) -> Result<Self, Self::Err> {{\n\
         crate::parse_allowed(text, \"{name}\", Self::ALL, Self::as_str)\n}}\n}}\n\n"
    ));
    code.push_str(&format!(
        "impl std::fmt::Display for {name} {{\n\
         fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{\n\
         f.write_str(self.as_str())\n}}\n}}\n\n"
    ));
    code.push_str(&format!(
        "impl From<{name}> for Val<{name}> {{\nfn from(value: {name}) -> Self {{ Val::Lit(value) }}\n}}\n"
    ));
    code
}
