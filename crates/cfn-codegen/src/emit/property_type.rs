//! Structs: the resource's properties and each property type, with a constructor taking
//! the required properties and a setter per property.

use super::doc_lines;
use crate::model::{Field, StructItem};

/// The struct, its constructor and setters, and `Default` when nothing is required.
pub fn struct_code(item: &StructItem) -> String {
    let StructItem { name, doc, fields } = item;
    let mut code = doc_lines(doc);
    code.push_str("#[derive(Clone, Debug, PartialEq, Serialize)]\n");
    code.push_str(&format!("pub struct {name} {{\n"));
    for f in fields {
        code.push_str(&field_code(f));
    }
    code.push_str("}\n\n");
    let required: Vec<&Field> = fields.iter().filter(|f| f.required).collect();
    code.push_str(&format!("impl {name} {{\n"));
    code.push_str(&constructor(name, fields, &required));
    for f in fields {
        code.push_str(&setter(f));
    }
    code.push_str("}\n");
    if required.is_empty() {
        code.push_str(&format!(
            "\nimpl Default for {name} {{\nfn default() -> Self {{ Self::new() }}\n}}\n"
        ));
    }
    code
}

/// [`struct_code`] plus the conversions that let a property type stand where a
/// `Val<T>` (or, for a type that contains itself, a `Val<Box<T>>`) is taken.
pub fn property_type_code(item: &StructItem) -> String {
    let name = &item.name;
    let mut code = struct_code(item);
    code.push_str(&format!(
        "\nimpl From<{name}> for Val<{name}> {{\nfn from(value: {name}) -> Self {{ Val::Lit(value) }}\n}}\n"
    ));
    code.push_str(&format!(
        "\nimpl From<{name}> for Val<Box<{name}>> {{\nfn from(value: {name}) -> Self {{ Val::Lit(Box::new(value)) }}\n}}\n"
    ));
    code
}

fn field_code(f: &Field) -> String {
    let mut text = f
        .doc
        .clone()
        .unwrap_or_else(|| format!("`{}`.", f.cfn_name));
    if f.required {
        text.push_str(" Required.");
    }
    let mut code = doc_lines(&text);
    if f.required {
        code.push_str(&format!(
            "#[serde(rename = \"{}\")]\npub {}: {},\n",
            f.cfn_name,
            f.ident,
            f.ty.spelled()
        ));
    } else {
        code.push_str(&format!(
            "#[serde(rename = \"{}\", skip_serializing_if = \"Option::is_none\")]\npub {}: Option<{}>,\n",
            f.cfn_name,
            f.ident,
            f.ty.spelled()
        ));
    }
    code
}

fn constructor(name: &str, fields: &[Field], required: &[&Field]) -> String {
    let params: Vec<String> = required
        .iter()
        .map(|f| format!("{}: {}", f.ident, f.ty.param()))
        .collect();
    let inits: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.required {
                format!("{}: {}.into()", f.ident, f.ident)
            } else {
                format!("{}: None", f.ident)
            }
        })
        .collect();
    let doc = if required.is_empty() {
        format!("/// A `{name}` with no properties set.\n")
    } else {
        format!(
            "/// A `{name}` with its required properties ({}).\n",
            required
                .iter()
                .map(|f| format!("`{}`", f.cfn_name))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    format!(
        "{doc}pub fn new({}) -> Self {{\nSelf {{ {} }}\n}}\n",
        params.join(", "),
        inits.join(", ")
    )
}

fn setter(f: &Field) -> String {
    let assign = if f.required {
        "value.into()"
    } else {
        "Some(value.into())"
    };
    format!(
        "\n/// Sets `{}`.\npub fn {}(mut self, value: {}) -> Self {{\nself.{} = {assign};\nself\n}}\n",
        f.cfn_name,
        f.ident,
        f.ty.param(),
        f.ident
    )
}
