//! Typed `Fn::GetAtt` accessors on a resource's `Handle`, one per attribute.

use crate::names::snake_case;

/// `impl Handle<resource> { pub fn att_x(&self) -> Expr ... }`; empty without attributes.
pub fn accessors(resource: &str, attributes: &[String]) -> String {
    if attributes.is_empty() {
        return String::new();
    }
    let mut code = format!("\nimpl crate::template::Handle<{resource}> {{\n");
    for attribute in attributes {
        code.push_str(&format!(
            "/// `Fn::GetAtt` `{attribute}`.\npub fn att_{}(&self) -> Expr {{\n\
             Expr::get_att(self.logical_id(), \"{attribute}\")\n}}\n",
            snake_case(&attribute.replace('.', "_"))
        ));
    }
    code.push_str("}\n");
    code
}
