//! Measures ("65 cm", "6 ft", "32oz", "12 inch", "128GB"): one way of
//! writing each, so that the shopper's "12in" and a catalog's "12 inch"
//! are the same size.

/// Units and the one spelling each is written in.
const UNITS: &[(&str, &str)] = &[
    ("mm", "mm"),
    ("cm", "cm"),
    ("m", "m"),
    ("meter", "m"),
    ("meters", "m"),
    ("metre", "m"),
    ("metres", "m"),
    ("in", "in"),
    ("inch", "in"),
    ("inches", "in"),
    ("\"", "in"),
    ("ft", "ft"),
    ("foot", "ft"),
    ("feet", "ft"),
    ("yard", "yd"),
    ("yards", "yd"),
    ("yd", "yd"),
    ("oz", "oz"),
    ("ounce", "oz"),
    ("ounces", "oz"),
    ("lb", "lb"),
    ("lbs", "lb"),
    ("pound", "lb"),
    ("pounds", "lb"),
    ("mg", "mg"),
    ("g", "g"),
    ("gram", "g"),
    ("grams", "g"),
    ("kg", "kg"),
    ("kilo", "kg"),
    ("kilos", "kg"),
    ("kilogram", "kg"),
    ("kilograms", "kg"),
    ("milligram", "mg"),
    ("milligrams", "mg"),
    ("mcg", "mcg"),
    ("iu", "iu"),
    ("ml", "ml"),
    ("milliliter", "ml"),
    ("milliliters", "ml"),
    ("millilitre", "ml"),
    ("millilitres", "ml"),
    ("l", "l"),
    ("liter", "l"),
    ("liters", "l"),
    ("litre", "l"),
    ("litres", "l"),
    ("gal", "gal"),
    ("gallon", "gal"),
    ("gallons", "gal"),
    ("qt", "qt"),
    ("quart", "qt"),
    ("quarts", "qt"),
    ("pt", "pt"),
    ("pint", "pt"),
    ("pints", "pt"),
    ("cu ft", "cu ft"),
    ("cu feet", "cu ft"),
    ("cu foot", "cu ft"),
    ("cubic ft", "cu ft"),
    ("cubic feet", "cu ft"),
    ("cubic foot", "cu ft"),
    ("mb", "mb"),
    ("gb", "gb"),
    ("tb", "tb"),
    ("mah", "mah"),
    ("w", "w"),
    ("watt", "w"),
    ("watts", "w"),
    ("v", "v"),
    ("volt", "v"),
    ("volts", "v"),
    // Sandpaper, wire and strings, and duvets.
    ("grit", "grit"),
    ("gauge", "gauge"),
    ("tog", "tog"),
];

/// The one spelling of `unit` ("inches" → "in"), `None` for a word that is
/// no unit.
pub fn unit(unit: &str) -> Option<&'static str> {
    // Folded, not only lower-cased: "LBS" is a unit, so "lbſ" (whose upper
    // case it is) must be too, or a size and its upper case would differ.
    let unit = super::fold_case(unit);
    UNITS
        .iter()
        .find(|(spelling, _)| *spelling == unit)
        .map(|(_, canonical)| *canonical)
}

/// `text` as a measure, "<number> <unit>" ("6ft" → "6 ft", "12 Inch" →
/// "12 in", "1.5 L" → "1.5 l"); `None` unless it is a number and a unit
/// and nothing else.
pub fn canonical(text: &str) -> Option<String> {
    let text = text.trim();
    let digits = text
        .char_indices()
        .take_while(|(_, c)| c.is_ascii_digit() || matches!(c, '.' | '/'))
        .last()
        .map(|(at, c)| at + c.len_utf8())?;
    let (number, rest) = text.split_at(digits);
    // "1.5", or a fraction: "3/4 inch".
    let marks = number.matches(['.', '/']).count();
    if !number.starts_with(|c: char| c.is_ascii_digit())
        || number.ends_with(['.', '/'])
        || marks > 1
    {
        return None;
    }
    let unit = unit(rest.trim())?;
    Some(format!("{number} {unit}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn measures_are_written_one_way() {
        for (text, expected) in [
            ("6 ft", Some("6 ft")),
            ("6ft", Some("6 ft")),
            ("10 feet", Some("10 ft")),
            ("12in", Some("12 in")),
            ("12 Inch", Some("12 in")),
            ("12\"", Some("12 in")),
            ("32oz", Some("32 oz")),
            ("128GB", Some("128 gb")),
            ("1.5 L", Some("1.5 l")),
            ("65 cm", Some("65 cm")),
            ("M", None),
            ("32", None),
            ("XL", None),
            ("2 packs", None),
            ("3/4 inch", Some("3/4 in")),
            ("1.1 cu ft", Some("1.1 cu ft")),
            ("2 pints", Some("2 pt")),
            ("10 kilos", Some("10 kg")),
            ("120 grit", Some("120 grit")),
            ("1000 IU", Some("1000 iu")),
            ("1/2/3 in", None),
            ("3/ in", None),
            ("6 ft long", None),
            (".5 l", None),
        ] {
            assert_eq!(super::canonical(text).as_deref(), expected, "{text}");
        }
    }
}
