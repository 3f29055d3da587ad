//! Well-known consumer brands (`rules/brands/known-brands.txt`): makers a
//! shopper names without any merchant's catalog loaded ("tide pods", "blue
//! buffalo dog food"). Compiled into the binary; see its README for where the
//! list comes from.

const KNOWN_BRANDS: &str = include_str!("../../rules/brands/known-brands.txt");

/// The brand lines, lowercase, as written.
pub fn lines() -> impl Iterator<Item = &'static str> {
    KNOWN_BRANDS
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

/// The ways a shopper types `brand`, as the parser's words joined by
/// spaces: as written, without apostrophes and periods ("burts bees", "dr
/// browns"), "&" and "+" left out or said ("arm hammer", "arm and hammer"),
/// hyphens as spaces ("oral b").
pub fn spellings(brand: &str) -> Vec<String> {
    let lower = brand.to_lowercase();
    let joined = lower.contains(['&', '+']);
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || matches!(c, '&' | '+' | '/' | '!' | ','))
        .map(|word| word.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|word| !word.is_empty())
        .collect();
    if words.is_empty() {
        return Vec::new();
    }
    let mut spellings = vec![words.join(" ")];
    // "black+decker", "h&m": one word, as the parser reads it.
    if !brand.contains(' ') && joined {
        spellings.push(
            lower
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_string(),
        );
    }
    let bare: Vec<String> = words.iter().map(|w| w.replace(['\'', '.'], "")).collect();
    spellings.push(bare.join(" "));
    if joined && bare.len() == 2 {
        spellings.push(format!("{} and {}", bare[0], bare[1]));
    }
    if bare.iter().any(|w| w.contains('-')) {
        spellings.push(bare.join(" ").replace('-', " "));
    }
    spellings.retain(|s| !s.is_empty());
    spellings.sort();
    spellings.dedup();
    spellings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_as_shoppers_type_them() {
        assert_eq!(spellings("burt's bees"), ["burt's bees", "burts bees"]);
        assert_eq!(spellings("dr. brown's"), ["dr brown's", "dr browns"]);
        assert_eq!(spellings("arm & hammer"), ["arm and hammer", "arm hammer"]);
        assert_eq!(
            spellings("black+decker"),
            ["black and decker", "black decker", "black+decker"]
        );
        assert_eq!(spellings("oral-b"), ["oral b", "oral-b"]);
        assert_eq!(spellings("chips ahoy!"), ["chips ahoy"]);
        assert_eq!(
            spellings("l.o.l. surprise!"),
            ["l.o.l surprise", "lol surprise"]
        );
        assert!(spellings("&").is_empty());
        assert!(lines().count() > 1000);
    }
}
