//! Container names: dockerd's validation and its `adjective_surname` generation.

use crate::error::{Error, Result};

const ADJECTIVES: &[&str] = &[
    "admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "blissful",
    "bold", "boring", "brave", "busy", "charming", "clever", "cool", "compassionate", "competent",
    "condescending", "confident", "cranky", "crazy", "dazzling", "determined", "distracted",
    "dreamy", "eager", "ecstatic", "elastic", "elated", "elegant", "eloquent", "epic", "fervent",
    "festive", "flamboyant", "focused", "friendly", "frosty", "gallant", "gifted", "goofy",
    "gracious", "happy", "hardcore", "heuristic", "hopeful", "hungry", "infallible", "inspiring",
    "jolly", "jovial", "keen", "kind", "laughing", "loving", "lucid", "magical", "modest",
    "musing", "mystifying", "naughty", "nervous", "nice", "nifty", "nostalgic", "objective",
    "optimistic", "peaceful", "pedantic", "pensive", "practical", "priceless", "quirky", "quizzical",
    "relaxed", "reverent", "romantic", "sad", "serene", "sharp", "silly", "sleepy", "stoic",
    "strange", "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting", "unruffled",
    "upbeat", "vibrant", "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial",
    "youthful", "zealous", "zen",
];

const SURNAMES: &[&str] = &[
    "albattani", "allen", "almeida", "archimedes", "ardinghelli", "babbage", "banach", "bardeen",
    "bartik", "bassi", "bell", "benz", "bhabha", "black", "blackwell", "bohr", "booth", "borg",
    "bose", "boyd", "brahmagupta", "brattain", "brown", "carson", "chandrasekhar", "clarke",
    "colden", "cori", "cray", "curie", "darwin", "davinci", "dijkstra", "dubinsky", "easley",
    "einstein", "elion", "engelbart", "euclid", "euler", "fermat", "fermi", "feynman", "franklin",
    "galileo", "gates", "goldberg", "goldstine", "golick", "goodall", "hamilton", "hawking",
    "heisenberg", "hermann", "hodgkin", "hoover", "hopper", "hugle", "hypatia", "jang", "jennings",
    "johnson", "joliot", "jones", "kalam", "kapitsa", "keller", "kepler", "khorana", "kilby",
    "kirch", "knuth", "kowalevski", "lalande", "lamarr", "lamport", "leakey", "leavitt", "lewin",
    "lichterman", "liskov", "lovelace", "lumiere", "mahavira", "mayer", "mccarthy", "mcclintock",
    "mclean", "meitner", "mendel", "merkle", "mirzakhani", "montalcini", "moore", "morse",
    "newton", "nightingale", "nobel", "noether", "northcutt", "noyce", "panini", "pare", "pascal",
    "pasteur", "payne", "perlman", "pike", "poincare", "poitras", "ptolemy", "raman", "ramanujan",
    "ride", "ritchie", "robinson", "roentgen", "rosalind", "saha", "sammet", "shannon", "shaw",
    "shirley", "shockley", "sinoussi", "snyder", "spence", "stonebraker", "swanson", "swartz",
    "swirles", "tesla", "thompson", "torvalds", "turing", "varahamihira", "visvesvaraya",
    "volhard", "wescoff", "wiles", "williams", "wilson", "wing", "wozniak", "wright", "yalow",
    "yonath",
];

/// `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, after stripping one leading `/`.
pub fn validate(name: &str) -> Result<String> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let mut chars = bare.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = bare.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !first_ok || !rest_ok {
        return Err(Error::invalid(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    Ok(bare.to_string())
}

/// A random `adjective_surname`, with a digit appended after the first tries (as dockerd).
pub fn generate(attempt: u32, random: u64) -> String {
    let adjective = ADJECTIVES[(random % ADJECTIVES.len() as u64) as usize];
    let surname = SURNAMES[((random >> 16) % SURNAMES.len() as u64) as usize];
    if attempt == 0 {
        format!("{adjective}_{surname}")
    } else {
        format!("{adjective}_{surname}{}", (random >> 32) % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_dockerd() {
        assert_eq!(validate("/web").unwrap(), "web");
        assert_eq!(validate("a.b-c_d").unwrap(), "a.b-c_d");
        assert!(validate("x").is_err());
        assert!(validate("-x").is_err());
        assert!(validate("a/b").is_err());
        assert!(validate("").is_err());
        assert!(validate(&generate(0, 12345)).is_ok());
    }
}
