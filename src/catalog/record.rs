//! The catalog of record: the one index under `<index>/catalog/` that holds
//! exactly the merchants put there (registered, or loaded with `concierge
//! index load`), each with its feed kept under `<index>/merchants/`.
//!
//! - Every change is one incremental tantivy commit: a merchant's products
//!   are replaced, or removed, and nothing else is touched. The commit's
//!   payload carries the [`RecordManifest`] (which merchants are in, their
//!   vocabulary, what the documents were made with), so the index and its
//!   description can never disagree.
//! - Writers are serialised by a lock file (`<index>/catalog.lock`), across
//!   threads and processes: concurrent registrations and reloads wait for
//!   each other instead of failing.
//! - A feed is checked before anything changes: one with no usable product,
//!   or more rejected rows than kept ones, is refused with its problems and
//!   the merchant's catalog stays as it was.
//! - Nothing rebuilds the catalog from another source. When the documents
//!   must be made again (a new schema, a changed lexicon), they are rebuilt
//!   from the kept feeds, aside, and swapped in.

use super::feed::{FeedFormat, FeedProduct, FeedRead};
use super::index::{
    aside_directory, recover_swap, rules_fingerprint, swap_in, BuildSummary, CatalogIndex,
    LoadSummary,
};
use super::{MerchantCatalog, MerchantProfile};
use crate::error::CatalogError;
use crate::rules::CompiledRules;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Most vocabulary terms kept per merchant (brands, product types, colours).
const MAX_TERMS_PER_MERCHANT: usize = 20_000;

/// What the catalog holds, carried in each commit's payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordManifest {
    /// [`rules_fingerprint`] of the rules the documents were made with.
    pub fingerprint: String,
    pub merchants: BTreeMap<String, MerchantEntry>,
}

/// One merchant in the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantEntry {
    /// The kept feed, a file name under `<index>/merchants/`.
    pub feed: String,
    pub products: usize,
    pub variants: usize,
    /// Unix seconds of the last load.
    pub loaded_at: i64,
    /// The catalog's own words, added to the parser's vocabulary.
    pub vocabulary: Vocabulary,
}

/// A catalog's brands, product types (each product's most specific
/// category), colour names and materials, as the merchant writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocabulary {
    pub brands: Vec<String>,
    pub product_types: Vec<String>,
    pub colors: Vec<String>,
    #[serde(default)]
    pub materials: Vec<String>,
}

impl Vocabulary {
    /// The vocabulary of `products`, each list sorted and without repeats.
    pub fn of(products: &[FeedProduct]) -> Vocabulary {
        let mut vocabulary = Vocabulary::default();
        for product in products {
            if !product.brand.trim().is_empty() {
                vocabulary.brands.push(product.brand.trim().to_string());
            }
            if let Some(kind) = product.categories.last() {
                vocabulary.product_types.push(kind.trim().to_string());
            }
            if let Some(material) = &product.material {
                vocabulary.materials.push(material.trim().to_string());
            }
            for variant in &product.variants {
                if let Some(color) = variant.option("color") {
                    vocabulary.colors.push(color.trim().to_string());
                }
                if let Some(material) = variant.option("material") {
                    vocabulary.materials.push(material.trim().to_string());
                }
            }
        }
        for list in [
            &mut vocabulary.brands,
            &mut vocabulary.product_types,
            &mut vocabulary.colors,
            &mut vocabulary.materials,
        ] {
            list.retain(|term| !term.is_empty());
            list.sort();
            list.dedup();
            list.truncate(MAX_TERMS_PER_MERCHANT);
        }
        vocabulary
    }
}

/// A feed as read, with the format it was read in.
#[derive(Debug)]
pub struct ParsedFeed {
    pub format: FeedFormat,
    pub read: FeedRead,
}

impl ParsedFeed {
    /// Reads a feed file in whichever format it is (by extension, else by
    /// content).
    pub fn from_file(path: &Path) -> Result<ParsedFeed, CatalogError> {
        let read = super::feed::read_feed_file(path)?;
        let format = match FeedFormat::by_extension(path) {
            Some(format) => format,
            None => {
                let head = std::fs::read(path)
                    .map(|bytes| {
                        String::from_utf8_lossy(&bytes[..bytes.len().min(64 << 10)]).to_string()
                    })
                    .unwrap_or_default();
                FeedFormat::detect(path, &head)
            }
        };
        Ok(ParsedFeed { format, read })
    }

    /// Parses feed text sent over the API: in `format` when given, else
    /// sniffed from the content. `name` names it in error messages.
    pub fn from_text(name: &str, text: &str, format: Option<FeedFormat>) -> ParsedFeed {
        let format = format.unwrap_or_else(|| FeedFormat::detect(Path::new(""), text));
        ParsedFeed {
            format,
            read: super::feed::parse_feed(name, text.as_bytes(), format),
        }
    }

    /// Rows kept: products in JSON Lines (one per line), variants in CSV
    /// and TSV (one per row).
    pub fn kept_rows(&self) -> usize {
        match self.format {
            FeedFormat::JsonLines => self.read.products.len(),
            FeedFormat::MerchantCenterCsv | FeedFormat::MerchantCenterTsv => {
                self.read.products.iter().map(|p| p.variants.len()).sum()
            }
        }
    }

    /// Refuses a feed that would wreck a catalog: no usable product, or
    /// more rows rejected than kept. The error lists the first problems.
    pub fn check_usable(&self, merchant_id: &str) -> Result<(), CatalogError> {
        let rejected = self.read.rejected.len();
        let kept = self.kept_rows();
        if !self.read.products.is_empty() && rejected <= kept {
            return Ok(());
        }
        Err(CatalogError::FeedRefused {
            merchant: merchant_id.to_string(),
            kept,
            rejected,
            problems: self
                .read
                .rejected
                .iter()
                .take(5)
                .map(|problem| problem.to_string())
                .collect(),
        })
    }
}

/// The catalog of record under one index root.
#[derive(Debug, Clone)]
pub struct CatalogRecord {
    root: PathBuf,
}

/// The catalog opened for searching, with its manifest.
pub struct OpenedRecord {
    pub index: CatalogIndex,
    pub manifest: RecordManifest,
    /// Set when the documents had to be made again from the kept feeds.
    pub rebuilt: Option<BuildSummary>,
}

/// An exclusive hold on the catalog for one change, released when dropped.
struct WriteLock {
    _file: File,
}

impl CatalogRecord {
    /// The catalog of record under `root` (the `--index` directory).
    pub fn new(root: &Path) -> CatalogRecord {
        CatalogRecord {
            root: root.to_path_buf(),
        }
    }

    /// The tantivy index directory.
    pub fn index_dir(&self) -> PathBuf {
        self.root.join("catalog")
    }

    /// Where merchants' feeds are kept, one normalised JSON Lines file each.
    pub fn feeds_dir(&self) -> PathBuf {
        self.root.join("merchants")
    }

    fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CatalogError {
        let path = path.to_path_buf();
        move |source| CatalogError::Io { path, source }
    }

    /// Waits for, then takes, the catalog's write lock.
    fn lock(&self) -> Result<WriteLock, CatalogError> {
        std::fs::create_dir_all(&self.root).map_err(Self::io_error(&self.root))?;
        let path = self.root.join("catalog.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(Self::io_error(&path))?;
        file.lock().map_err(Self::io_error(&path))?;
        Ok(WriteLock { _file: file })
    }

    /// Opens the index (an empty one when there is none yet). When its
    /// documents were made with other rules or another schema, they are
    /// first made again from the kept feeds, aside, and swapped in.
    pub fn open(&self, rules: &CompiledRules) -> Result<OpenedRecord, CatalogError> {
        let directory = self.index_dir();
        recover_swap(&directory);
        if directory.join("meta.json").is_file() {
            let index = CatalogIndex::open(&directory);
            let manifest = index.as_ref().ok().map(read_manifest).transpose()?;
            if let (Ok(index), Some(manifest)) = (index, manifest) {
                if manifest.fingerprint == rules_fingerprint(rules) || manifest.merchants.is_empty()
                {
                    return Ok(OpenedRecord {
                        index,
                        manifest,
                        rebuilt: None,
                    });
                }
            }
            let _lock = self.lock()?;
            let summary = self.rebuild_locked(rules)?;
            let index = CatalogIndex::open(&directory)?;
            let manifest = read_manifest(&index)?;
            return Ok(OpenedRecord {
                index,
                manifest,
                rebuilt: Some(summary),
            });
        }
        let _lock = self.lock()?;
        let index = CatalogIndex::open_or_create(&directory)?;
        let manifest = read_manifest(&index)?;
        Ok(OpenedRecord {
            index,
            manifest,
            rebuilt: None,
        })
    }

    /// The manifest of the current commit (empty when there is no index).
    pub fn manifest(&self) -> Result<RecordManifest, CatalogError> {
        let directory = self.index_dir();
        if !directory.join("meta.json").is_file() {
            return Ok(RecordManifest::default());
        }
        read_manifest(&CatalogIndex::open(&directory)?)
    }

    /// Replaces merchant `merchant_id`'s catalog with `feed`, in one commit,
    /// after checking the feed is usable; keeps the feed for rebuilds.
    /// `on_progress` is called with the number of products written.
    pub fn load_merchant(
        &self,
        rules: &CompiledRules,
        merchant_id: &str,
        feed: &ParsedFeed,
        on_progress: &mut dyn FnMut(usize),
    ) -> Result<LoadSummary, CatalogError> {
        validate_merchant_id(merchant_id)?;
        feed.check_usable(merchant_id)?;
        let _lock = self.lock()?;
        let index = CatalogIndex::open_or_create(&self.index_dir())?;
        let mut manifest = read_manifest(&index)?;
        if manifest.fingerprint.is_empty() || manifest.merchants.is_empty() {
            manifest.fingerprint = rules_fingerprint(rules);
        }
        // The feed is kept first: if the commit below never happens, the
        // kept feed is the newer one, which is what a rebuild should use.
        let feed_name = format!("{merchant_id}.jsonl");
        let feeds_dir = self.feeds_dir();
        std::fs::create_dir_all(&feeds_dir).map_err(Self::io_error(&feeds_dir))?;
        write_atomically(
            &feeds_dir.join(&feed_name),
            super::feed::to_jsonl(&feed.read.products).as_bytes(),
        )?;
        manifest.merchants.insert(
            merchant_id.to_string(),
            MerchantEntry {
                feed: feed_name,
                products: feed.read.products.len(),
                variants: feed.read.products.iter().map(|p| p.variants.len()).sum(),
                loaded_at: crate::order::mandate::now_secs(),
                vocabulary: Vocabulary::of(&feed.read.products),
            },
        );
        let payload = serde_json::to_string(&manifest)
            .map_err(|error| CatalogError::Invalid(error.to_string()))?;
        index.load_merchant_with_payload(
            rules,
            merchant_id,
            &feed.read.products,
            feed.read.rejected.len(),
            &payload,
            on_progress,
        )
    }

    /// Removes merchant `merchant_id`'s products and kept feed, in one
    /// commit. True when the catalog held it.
    pub fn remove_merchant(&self, merchant_id: &str) -> Result<bool, CatalogError> {
        let _lock = self.lock()?;
        let directory = self.index_dir();
        if !directory.join("meta.json").is_file() {
            return Ok(false);
        }
        let index = CatalogIndex::open(&directory)?;
        let mut manifest = read_manifest(&index)?;
        let Some(entry) = manifest.merchants.remove(merchant_id) else {
            return Ok(false);
        };
        let payload = serde_json::to_string(&manifest)
            .map_err(|error| CatalogError::Invalid(error.to_string()))?;
        index.remove_merchant_with_payload(merchant_id, &payload)?;
        let _ = std::fs::remove_file(self.feeds_dir().join(entry.feed));
        Ok(true)
    }

    /// Makes every document again from the kept feeds, aside, and swaps the
    /// new index in.
    pub fn rebuild(&self, rules: &CompiledRules) -> Result<BuildSummary, CatalogError> {
        let _lock = self.lock()?;
        self.rebuild_locked(rules)
    }

    fn rebuild_locked(&self, rules: &CompiledRules) -> Result<BuildSummary, CatalogError> {
        let directory = self.index_dir();
        let mut manifest = if directory.join("meta.json").is_file() {
            CatalogIndex::open(&directory)
                .and_then(|index| read_manifest(&index))
                .unwrap_or_default()
        } else {
            RecordManifest::default()
        };
        let mut catalogs = Vec::new();
        for (merchant_id, entry) in &mut manifest.merchants {
            let path = self.feeds_dir().join(&entry.feed);
            let read = super::feed::read_feed_file(&path)?;
            entry.products = read.products.len();
            entry.variants = read.products.iter().map(|p| p.variants.len()).sum();
            entry.vocabulary = Vocabulary::of(&read.products);
            catalogs.push(MerchantCatalog {
                profile: MerchantProfile {
                    id: merchant_id.clone(),
                    name: merchant_id.clone(),
                    feed: entry.feed.clone(),
                    currency: "USD".into(),
                    shipping: 0,
                    free_shipping_over: 0,
                    tax_basis_points: 0,
                    protocol: "messenger".into(),
                },
                products: read.products,
            });
        }
        manifest.fingerprint = rules_fingerprint(rules);
        let payload = serde_json::to_string(&manifest)
            .map_err(|error| CatalogError::Invalid(error.to_string()))?;
        let aside = aside_directory(&directory);
        let built = CatalogIndex::build(&aside, &catalogs, rules)?;
        built.commit_payload(&payload)?;
        drop(built);
        swap_in(&aside, &directory)?;
        Ok(super::index::build_summary(&catalogs, true))
    }
}

/// The manifest in `index`'s current commit.
pub fn read_manifest(index: &CatalogIndex) -> Result<RecordManifest, CatalogError> {
    let metas = index.index.load_metas()?;
    match metas.payload {
        None => Ok(RecordManifest::default()),
        Some(payload) => serde_json::from_str(&payload).map_err(|error| {
            CatalogError::Invalid(format!(
                "the catalog at {} has an unreadable description ({error}); rebuild it with `concierge index build`",
                index.directory.display()
            ))
        }),
    }
}

/// A merchant id names files and index terms: 1 to 64 letters, digits,
/// `-`, `_` or `.`, not starting with `.`.
pub fn validate_merchant_id(merchant_id: &str) -> Result<(), CatalogError> {
    let valid = !merchant_id.is_empty()
        && merchant_id.len() <= 64
        && !merchant_id.starts_with('.')
        && merchant_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(CatalogError::Invalid(format!(
            "merchant id {merchant_id:?} must be 1 to 64 letters, digits, '-', '_' or '.'"
        )))
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a
/// reader never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CatalogError> {
    let mut temporary = path.as_os_str().to_os_string();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, bytes).map_err(CatalogRecord::io_error(&temporary))?;
    std::fs::rename(&temporary, path).map_err(CatalogRecord::io_error(path))
}
