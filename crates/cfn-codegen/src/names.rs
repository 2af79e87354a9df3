//! Rust names for CloudFormation names: fields, identifiers and enum variants.

/// A property name as a snake-case field name:
/// `ReplicationGroupId` -> `replication_group_id`, `IAMRoleARN` -> `iam_role_arn`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None => false,
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                // `CNAMEs` is one word: a lone trailing `s` is a plural, not a new word.
                Some(p) if p.is_ascii_uppercase() => {
                    next.is_some_and(|n| n.is_ascii_lowercase())
                        && !(next == Some('s') && i + 2 == chars.len())
                }
                Some(_) => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out
}

pub fn rust_ident(snake: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "box", "break", "const", "continue", "crate", "dyn", "else",
        "enum", "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match",
        "mod", "move", "mut", "pub", "ref", "return", "static", "struct", "trait", "true", "try",
        "type", "unsafe", "use", "where", "while", "yield", "abstract", "become", "do", "final",
        "macro", "override", "priv", "typeof", "unsized", "virtual",
    ];
    if KEYWORDS.contains(&snake) {
        format!("r#{snake}")
    } else if snake.starts_with(|c: char| c.is_ascii_digit()) {
        format!("v{snake}")
    } else {
        snake.to_owned()
    }
}

/// An enum value as a variant name: `redirect-to-https` -> `RedirectToHttps`,
/// `TLSv1.2_2021` -> `TLSv122021`, `PER_RESOLVER_CACHING` -> `PerResolverCaching`.
pub fn variant_name(value: &str) -> String {
    let mut out = String::new();
    for chunk in value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|c| !c.is_empty())
    {
        // All-caps chunks become `Caps`; mixed-case chunks keep their inner capitals.
        let normalized = if chunk.chars().any(|c| c.is_ascii_lowercase()) {
            chunk.to_owned()
        } else {
            chunk.to_ascii_lowercase()
        };
        let mut chars = normalized.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.push_str(chars.as_str());
        }
    }
    if out.is_empty() {
        out.push_str("Empty");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_handles_acronyms_and_digits() {
        assert_eq!(snake_case("ReplicationGroupId"), "replication_group_id");
        assert_eq!(snake_case("IAMRoleARN"), "iam_role_arn");
        assert_eq!(snake_case("SSESpecification"), "sse_specification");
        assert_eq!(snake_case("IPV6Enabled"), "ipv6_enabled");
        assert_eq!(snake_case("CidrIpv6"), "cidr_ipv6");
        assert_eq!(snake_case("Type"), "type");
        assert_eq!(snake_case("CNAMEs"), "cnames");
    }

    #[test]
    fn variant_names_are_camel_case_without_acronyms() {
        assert_eq!(variant_name("redirect-to-https"), "RedirectToHttps");
        assert_eq!(variant_name("PER_RESOLVER_CACHING"), "PerResolverCaching");
        assert_eq!(variant_name("TLSv1.2_2021"), "TLSv122021");
        assert_eq!(variant_name("PriceClass_100"), "PriceClass100");
        assert_eq!(variant_name("3"), "V3");
    }
}
