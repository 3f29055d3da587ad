//! The first stage of a search: the best products for the shopper's words,
//! with product-level filters and boosts, without scoring every product
//! that matches.
//!
//! Two walks, both exact (the top `k` of the full score):
//!
//! - **Required words first** (`required_first`), when the plan names words
//!   a product must hold, as it does whenever the request has a product
//!   type or an attribute. Only products holding them are visited, in
//!   document order, walking the words' postings together (leapfrog). Each
//!   is scored as far as it can still reach the top `k`: its required
//!   words exactly, the rest (other words, attributes, model codes,
//!   proximity) by their maxima, which are replaced by exact values one at
//!   a time until the bound falls to the worst kept. The filters come
//!   right after the required words. On a large index the segments are
//!   walked on every core into one shared top `k`.
//! - **WAND over the union** otherwise (free text): one flat union of
//!   (word, field) term queries, weighted by field, which tantivy walks with
//!   block-max WAND: whole blocks of postings whose best possible score
//!   cannot reach the current top `k` are skipped. The attribute boosts
//!   are terms of that union too, scaled so each adds exactly its boost.
//!   The filters, required words, model codes and proximity bonus are
//!   checked only for the documents WAND hands over, and WAND is told the
//!   threshold minus the most those bonuses can add. When the filters turn
//!   most candidates away, it switches to filtering first.
//!
//! Why two: with a product type, WAND over the union also visits every
//! product sharing only a colour or a size with the request (their boost
//! alone can pass its threshold), and the bonus slack it must allow keeps
//! the threshold low; walking the type's words visits only products of
//! that type.

use super::index::{
    stable_hash, term_postings, CatalogIndex, Currencies, DocBits, SegmentColumns, TermCache,
    WINDOW_DOCS,
};
use crate::error::CatalogError;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, OnceLock};
use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::{Postings, SegmentPostings};
use tantivy::query::{
    Bm25StatisticsProvider, Bm25Weight, BooleanQuery, BoostQuery, EnableScoring, Occur,
    PhraseQuery, Query, Scorer, TermQuery, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, DocId, DocSet, Score, Searcher, SegmentReader, Term, TERMINATED};

/// A weighted term scored by BM25 in the union.
#[derive(Debug, Clone)]
pub struct ScoredTerm {
    pub term: Term,
    pub weight: f32,
    /// Across the whole index, as the plan found it: not looked up again.
    pub doc_freq: u64,
}

/// A proximity clause: scored like tantivy's phrase query times `boost`.
#[derive(Debug, Clone)]
pub struct ProximityBonus {
    pub query: PhraseQuery,
    pub boost: f32,
}

/// Everything the first stage judges a product on.
#[derive(Debug, Clone, Default)]
pub struct ProductPlan {
    /// The union WAND walks.
    pub scored: Vec<ScoredTerm>,
    /// A product must satisfy one of these alternatives (when there are
    /// any): each word of it present in one of the word's terms.
    pub required: Vec<Vec<Vec<Term>>>,
    /// Words close together in the title.
    pub proximity: Vec<ProximityBonus>,
    /// Exact codes, each adding a constant.
    pub codes: Vec<(Term, f32)>,
    pub filters: ProductFilters,
    /// (attribute term, boost): colour, size, material and brand asked for.
    /// Scored in the union, each adding exactly its boost to a product
    /// holding it (see `index::attribute`).
    pub attributes: Vec<(Term, f32)>,
}

/// Product-level filters, on each product's summary of its variants.
#[derive(Debug, Clone, Default)]
pub struct ProductFilters {
    pub in_stock_only: bool,
    /// Hash of the currency some variant must be priced in.
    pub currency: Option<u64>,
    /// Some variant can be at most this: the cheapest is not above it.
    pub max_price: Option<i64>,
    /// Some variant can be at least this: the dearest is not below it.
    pub min_price: Option<i64>,
    pub merchants_allowed: Option<Vec<u64>>,
    pub merchants_denied: Vec<u64>,
    /// Who the product must be for; products that do not say pass.
    pub audience: Option<super::audience::AudienceFilter>,
}

impl ProductFilters {
    /// Whether products whose stock and price range are these (the one
    /// product's, or a window's zone map) can pass the stock and price
    /// filters.
    fn stock_and_prices_pass(&self, in_stock: bool, priced: bool, min: i64, max: i64) -> bool {
        (!self.in_stock_only || in_stock)
            && self.max_price.is_none_or(|limit| priced && min <= limit)
            && self.min_price.is_none_or(|limit| priced && max >= limit)
    }
}

/// An attribute held by more than one product in this many is checked
/// rather than walked by WAND.
const DENSE_ATTRIBUTE_SHARE: u64 = 8;

/// A field's token count that makes its average length effectively
/// infinite for BM25.
const FLAT_TOTAL_TOKENS: u64 = u64::MAX >> 8;

/// Document frequencies looked up once per search: a segment's weights are
/// built from these rather than by asking every segment again.
struct CachedStatistics<'a> {
    searcher: &'a Searcher,
    total_docs: u64,
    doc_freqs: HashMap<Term, u64>,
    total_tokens: HashMap<Field, u64>,
}

impl CachedStatistics<'_> {
    /// Records an attribute term: its field's token count is made so large
    /// that BM25's length normalisation vanishes (the average length is
    /// the denominator), so every product holding the term scores the same,
    /// and so does the block maximum WAND reads.
    fn remember_flat(&mut self, term: &Term, doc_freq: u64) {
        self.doc_freqs.insert(term.clone(), doc_freq);
        self.total_tokens.insert(term.field(), FLAT_TOTAL_TOKENS);
    }

    /// Records `term`'s document frequency and its field's token count.
    fn remember(&mut self, term: &Term, doc_freq: u64) -> Result<(), CatalogError> {
        self.doc_freqs.insert(term.clone(), doc_freq);
        if let std::collections::hash_map::Entry::Vacant(entry) =
            self.total_tokens.entry(term.field())
        {
            entry.insert(self.searcher.total_num_tokens(term.field())?);
        }
        Ok(())
    }
}

impl Bm25StatisticsProvider for CachedStatistics<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        match self.total_tokens.get(&field) {
            Some(tokens) => Ok(*tokens),
            None => self.searcher.total_num_tokens(field),
        }
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(self.total_docs)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        match self.doc_freqs.get(term) {
            Some(freq) => Ok(*freq),
            None => self.searcher.doc_freq(term),
        }
    }
}

/// A candidate in the top-k heap: better is a higher score, then an earlier
/// document (as tantivy's own top docs break ties).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Hit {
    score: Score,
    address: DocAddress,
}

impl Eq for Hit {}

impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Hit {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.address.cmp(&self.address))
    }
}

/// The product-level filters on one segment's columns.
impl SegmentColumns {
    /// Whether some product of window `window` may pass `filters` (a
    /// necessary condition: each range on its own).
    fn window_may_pass(&self, filters: &ProductFilters, window: usize) -> bool {
        self.windows.get(window).is_some_and(|zone| {
            filters.stock_and_prices_pass(
                zone.in_stock,
                zone.priced,
                zone.min_price,
                zone.max_price,
            )
        })
    }

    fn passes(&self, filters: &ProductFilters, doc: DocId) -> bool {
        let Some(row) = self.rows.get(doc as usize) else {
            return false;
        };
        if !filters.stock_and_prices_pass(row.in_stock, row.priced, row.min_price, row.max_price) {
            return false;
        }
        if filters
            .audience
            .is_some_and(|wanted| !wanted.accepts(row.audience))
        {
            return false;
        }
        if filters.merchants_allowed.is_some() || !filters.merchants_denied.is_empty() {
            let merchant = self.merchant.first(doc);
            if let Some(allowed) = &filters.merchants_allowed {
                if !merchant.is_some_and(|m| allowed.contains(&m)) {
                    return false;
                }
            }
            if merchant.is_some_and(|m| filters.merchants_denied.contains(&m)) {
                return false;
            }
        }
        if let Some(currency) = filters.currency {
            let held = match row.currencies {
                Currencies::None => false,
                Currencies::One => row.currency == currency,
                // A product priced in several currencies: read them.
                Currencies::Several => self.currency.values_for_doc(doc).any(|c| c == currency),
            };
            if !held {
                return false;
            }
        }
        true
    }
}

/// See `CatalogIndex::prepare`.
struct Prepared<'a> {
    statistics: CachedStatistics<'a>,
    scored: Vec<ScoredTerm>,
    /// Model codes and dense attributes: (term, what holding it adds).
    constant_bonuses: Vec<(Term, f32)>,
    proximity_weights: Vec<ScaledWeight>,
    /// The most each proximity clause can add, in `proximity_weights` order.
    proximity_bounds: Vec<Score>,
    max_bonus: Score,
    required_floor: Score,
}

/// The heap's hits, best first, as (score, document).
fn best_first(heap: BinaryHeap<Reverse<Hit>>) -> Vec<(Score, DocAddress)> {
    let mut hits: Vec<Hit> = heap.into_iter().map(|Reverse(hit)| hit).collect();
    hits.sort_by(|a, b| b.cmp(a));
    hits.into_iter()
        .map(|hit| (hit.score, hit.address))
        .collect()
}

/// A weight and the factor its scores take.
type ScaledWeight = (Box<dyn Weight>, f32);

/// Keeps `hit` if it is among the best `k` so far.
fn offer_hit(heap: &mut BinaryHeap<Reverse<Hit>>, k: usize, hit: Hit) {
    if heap.len() < k {
        heap.push(Reverse(hit));
    } else if heap.peek().is_some_and(|Reverse(worst)| hit > *worst) {
        heap.pop();
        heap.push(Reverse(hit));
    }
}

/// A constant bonus's term held by at least one product in this many is
/// tested in a bit set (one bit per product) rather than found in its
/// postings: the set is then no bigger than the postings, and a test costs
/// a load where a seek costs a search.
const SET_SHARE: u64 = 64;

/// Searches whose required words have fewer postings than this (over all
/// segments) walk the segments one after another: handing work to other
/// threads and waking them costs more than it saves (at 100,000 products
/// a walk takes a few hundred microseconds). Tests use every core on any
/// index, so the parallel walk is what they check.
const PARALLEL_MIN_POSTINGS: u64 = if cfg!(test) { 1 } else { 100_000 };

/// Products WAND may hand over and the filters turn away before the search
/// switches to filtering first.
const MAX_REJECTED: usize = 512;

/// The weighted union of the terms `segment` holds, and the factor its
/// scores take: a single term is scored by tantivy unweighted (a boost
/// would hide it from the single-term WAND), so its weight is applied by
/// the caller. `None` when the segment holds none of the terms.
fn segment_union<'a>(
    segment: &SegmentReader,
    scored: &[ScoredTerm],
    enable: &dyn Fn() -> EnableScoring<'a>,
) -> Result<Option<ScaledWeight>, CatalogError> {
    // Only the terms this segment holds: an absent term would make tantivy
    // fall back from WAND to scoring every match.
    let mut present: Vec<&ScoredTerm> = Vec::new();
    for scored in scored {
        if segment
            .inverted_index(scored.term.field())?
            .get_term_info(&scored.term)
            .map_err(index_io)?
            .is_some()
        {
            present.push(scored);
        }
    }
    let (query, scale): (Box<dyn Query>, f32) = match present.as_slice() {
        [] => return Ok(None),
        [only] => (
            Box::new(TermQuery::new(
                only.term.clone(),
                IndexRecordOption::WithFreqs,
            )),
            only.weight,
        ),
        _ => {
            let clauses: Vec<(Occur, Box<dyn Query>)> = present
                .iter()
                .map(|scored| {
                    let term: Box<dyn Query> = Box::new(TermQuery::new(
                        scored.term.clone(),
                        IndexRecordOption::WithFreqs,
                    ));
                    (
                        Occur::Should,
                        Box::new(BoostQuery::new(term, scored.weight)) as Box<dyn Query>,
                    )
                })
                .collect();
            (Box::new(BooleanQuery::new(clauses)), 1.0)
        }
    };
    Ok(Some((query.weight(enable())?, scale)))
}

/// True when `docset` contains `doc`; docsets only move forward, and `doc`
/// never decreases between calls within a segment.
fn contains(docset: &mut dyn DocSet, doc: DocId) -> bool {
    if docset.doc() == TERMINATED {
        return false;
    }
    if docset.doc() < doc {
        docset.seek(doc);
    }
    docset.doc() == doc
}

/// One segment's checks on the documents WAND hands over.
struct SegmentChecks {
    /// Alternatives → words → postings of the word's terms.
    required: Vec<Vec<Vec<SegmentPostings>>>,
    /// Constant bonuses of terms many products hold, tested in bit sets.
    sets: Vec<(Arc<DocBits>, f32)>,
    /// Constant bonuses of rarer terms, found in their postings.
    codes: Vec<(SegmentPostings, f32)>,
    proximity: Vec<Box<dyn Scorer>>,
    columns: Arc<SegmentColumns>,
}

impl SegmentChecks {
    fn satisfies_required(&mut self, doc: DocId) -> bool {
        if self.required.is_empty() {
            return true;
        }
        self.required.iter_mut().any(|alternative| {
            alternative.iter_mut().all(|word| {
                // Every docset is advanced (not short-circuited) only as far
                // as needed; `any` stops at the first holding the word.
                word.iter_mut()
                    .any(|postings| contains(postings as &mut dyn DocSet, doc))
            })
        })
    }

    /// `doc`'s full score if it passes the filters and can beat `worst`;
    /// `None` otherwise. See `CatalogIndex::required_first`.
    fn score_within(
        &mut self,
        doc: DocId,
        required_score: Score,
        outside: &mut [TermCursor],
        bounds: &WindowBounds,
        worst: Worst,
        plan: &ProductPlan,
    ) -> Option<Score> {
        // The bit sets first: exact, and cheaper than any bound's check.
        let mut score = required_score + self.set_bonus(doc);
        let mut rest = bounds.rest;
        if !worst.beaten_by(score + rest) || !self.columns.passes(&plan.filters, doc) {
            return None;
        }
        for (cursor, bound) in outside.iter_mut().zip(&bounds.outside) {
            rest -= *bound;
            if let Some(value) = cursor.score_at(doc) {
                score += value;
            } else if !worst.beaten_by(score + rest) {
                return None;
            }
        }
        for (postings, value) in &mut self.codes {
            rest -= *value;
            if step_to(postings, doc) == doc {
                score += *value;
            } else if !worst.beaten_by(score + rest) {
                return None;
            }
        }
        for scorer in &mut self.proximity {
            if contains(scorer.as_mut() as &mut dyn DocSet, doc) {
                score += scorer.score();
            }
        }
        worst.beaten_by(score).then_some(score)
    }

    /// The most the bit-set bonuses add to a product of window `window`.
    fn window_set_bonus(&self, window: usize) -> Score {
        self.sets
            .iter()
            .filter(|(set, _)| set.any_in_window(window))
            .map(|(_, value)| *value)
            .sum()
    }

    fn set_bonus(&self, doc: DocId) -> Score {
        self.sets
            .iter()
            .filter(|(set, _)| set.contains(doc))
            .map(|(_, value)| *value)
            .sum()
    }

    fn bonus(&mut self, doc: DocId) -> Score {
        let mut bonus = self.set_bonus(doc);
        for (postings, value) in &mut self.codes {
            if contains(postings as &mut dyn DocSet, doc) {
                bonus += *value;
            }
        }
        for scorer in &mut self.proximity {
            if contains(scorer.as_mut() as &mut dyn DocSet, doc) {
                bonus += scorer.score();
            }
        }
        bonus
    }
}

/// The worst of a full top `k`, as a walk of segment `segment_ord` sees it:
/// a product must beat its score, or tie it and come earlier (a lower
/// segment) to get in.
#[derive(Debug, Clone, Copy)]
struct Worst {
    score: Score,
    wins_ties: bool,
}

impl Worst {
    fn beaten_by(self, score: Score) -> bool {
        score > self.score || (score == self.score && self.wins_ties)
    }
}

/// The top `k` that segment walks on several threads fill together. The
/// worst kept is also published in one atomic word (score bits and
/// segment), so walks read it on every product without taking the lock.
struct SharedTop {
    k: usize,
    heap: Mutex<BinaryHeap<Reverse<Hit>>>,
    worst: AtomicU64,
}

impl SharedTop {
    fn new(k: usize) -> SharedTop {
        SharedTop {
            k,
            heap: Mutex::new(BinaryHeap::with_capacity(k + 1)),
            worst: AtomicU64::new(Self::pack(Score::NEG_INFINITY, u32::MAX)),
        }
    }

    fn pack(score: Score, segment_ord: u32) -> u64 {
        (u64::from(score.to_bits()) << 32) | u64::from(segment_ord)
    }

    fn worst(&self, segment_ord: u32) -> Worst {
        let packed = self.worst.load(AtomicOrdering::Relaxed);
        Worst {
            score: Score::from_bits((packed >> 32) as u32),
            // Hits of an earlier segment win ties against this one's; a
            // hit of this segment came before the product now walked.
            wins_ties: segment_ord < packed as u32,
        }
    }

    fn offer(&self, hit: Hit) {
        let mut heap = self
            .heap
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        offer_hit(&mut heap, self.k, hit);
        if heap.len() >= self.k {
            if let Some(Reverse(worst)) = heap.peek() {
                self.worst.store(
                    Self::pack(worst.score, worst.address.segment_ord),
                    AtomicOrdering::Relaxed,
                );
            }
        }
    }

    fn into_heap(self) -> BinaryHeap<Reverse<Hit>> {
        self.heap
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Products a walk checks between reads of the shared worst score.
const WORST_REFRESH: u32 = 16;

/// Windows the walks stepped over, for the exactness test to check that
/// it covered skipping.
#[cfg(test)]
static WINDOWS_SKIPPED: AtomicU64 = AtomicU64::new(0);

/// Window bounds are raised by this share, so that summing in another
/// order than a product's own score can never round a bound under it.
const WINDOW_BOUND_SLACK: Score = 1e-5;

/// Postings at least this long get impacts (`WindowImpacts`); tests give
/// every list impacts, so the exactness test checks window skipping.
const IMPACTS_MIN_DOCS: u32 = if cfg!(test) { 1 } else { 1024 };

/// For each window of 64 documents of a segment, the shortest field (as
/// its norm id) and the highest frequency of a term among the window's
/// documents holding it, which bound its BM25 score there (Lucene keeps
/// the same "impacts" per block of postings). Worked out once per segment
/// and term by walking the postings, and cached.
pub(crate) struct WindowImpacts(Vec<Impact>);

#[derive(Debug, Clone, Copy)]
struct Impact {
    min_norm: u8,
    /// 0: no document of the window holds the term; 255: 255 or more.
    max_tf: u8,
}

impl Default for Impact {
    /// No document yet: any document's norm is at most the start.
    fn default() -> Self {
        Impact {
            min_norm: u8::MAX,
            max_tf: 0,
        }
    }
}

impl WindowImpacts {
    fn build(
        segment: &SegmentReader,
        term: &Term,
    ) -> Result<Option<(WindowImpacts, usize)>, CatalogError> {
        let Some(mut postings) = term_postings(segment, term, IndexRecordOption::WithFreqs)? else {
            return Ok(None);
        };
        let norms = field_norms(segment, term.field())?;
        let mut impacts =
            vec![Impact::default(); (segment.max_doc() as usize).div_ceil(WINDOW_DOCS)];
        let mut doc = postings.doc();
        while doc != TERMINATED {
            if let Some(impact) = impacts.get_mut(doc as usize / WINDOW_DOCS) {
                let norm = norms.fieldnorm_id(doc);
                let tf = postings.term_freq().min(u32::from(u8::MAX)) as u8;
                impact.min_norm = impact.min_norm.min(norm);
                impact.max_tf = impact.max_tf.max(tf);
            }
            doc = postings.advance();
        }
        let bytes = impacts.len() * 2;
        Ok(Some((WindowImpacts(impacts), bytes)))
    }
}

/// What the terms outside the required words can add to a product of the
/// window being walked: each outside term's most (its window bound, or
/// its maximum before any window is known), and their sum with the most
/// the rarer bonuses and proximity can add.
struct WindowBounds {
    outside: Vec<Score>,
    rest: Score,
}

/// The worst of the shared top k as one walk reads it: from the shared
/// word every few products, and right after the walk offered a hit. It
/// only rises, so an older value prunes less but never wrongly, and the
/// word is spared the cache-line traffic of a read per product.
struct WorstReader<'a> {
    top: &'a SharedTop,
    segment_ord: u32,
    worst: Worst,
    until_read: u32,
}

impl<'a> WorstReader<'a> {
    fn new(top: &'a SharedTop, segment_ord: u32) -> WorstReader<'a> {
        WorstReader {
            top,
            segment_ord,
            worst: top.worst(segment_ord),
            until_read: 0,
        }
    }

    fn get(&mut self) -> Worst {
        if self.until_read == 0 {
            self.worst = self.top.worst(self.segment_ord);
            self.until_read = WORST_REFRESH;
        }
        self.until_read -= 1;
        self.worst
    }

    fn read_next_time(&mut self) {
        self.until_read = 0;
    }
}

/// Postings at least this long get a table of scores (`TermCursor::once`);
/// in tests, every list.
const SCORE_TABLE_MIN_DOCS: u32 = if cfg!(test) { 1 } else { 2048 };

/// A scored term's postings in one segment, its BM25 weight (the term's
/// factor included) and the most it can add to a product.
struct TermCursor {
    term: Term,
    postings: SegmentPostings,
    norms: FieldNormReader,
    weight: Bm25Weight,
    /// The score at term frequency 1 (most products hold a word once) for
    /// each field length: a load where BM25 costs a division. Only for
    /// long postings, where it repays the 256 divisions that fill it.
    once: Option<Box<[Score; 256]>>,
    /// See `WindowImpacts`; only for the long postings of required words.
    impacts: Option<Arc<WindowImpacts>>,
    bound: Score,
}

impl TermCursor {
    /// `None` when the segment does not hold the term.
    fn open(
        segment: &SegmentReader,
        term: &Term,
        weight: &Bm25Weight,
    ) -> Result<Option<TermCursor>, CatalogError> {
        let Some(postings) = term_postings(segment, term, IndexRecordOption::WithFreqs)? else {
            return Ok(None);
        };
        let norms = field_norms(segment, term.field())?;
        let once = (postings.doc_freq() >= SCORE_TABLE_MIN_DOCS).then(|| {
            let mut once = Box::new([0.0; 256]);
            for (fieldnorm_id, score) in (0..=u8::MAX).zip(once.iter_mut()) {
                *score = weight.score(fieldnorm_id, 1);
            }
            once
        });
        Ok(Some(TermCursor {
            term: term.clone(),
            postings,
            norms,
            weight: weight.clone(),
            once,
            impacts: None,
            bound: weight.max_score(),
        }))
    }

    /// Reads (or works out once) the term's impacts in `segment` when its
    /// postings hold at least `min_docs` documents. A required word's
    /// impacts pay when its postings are long enough to skip through; an
    /// outside word's always do, since they also say which windows lack it.
    fn load_impacts(
        &mut self,
        cache: &TermCache<WindowImpacts>,
        segment: &SegmentReader,
        min_docs: u32,
    ) -> Result<(), CatalogError> {
        if self.postings.doc_freq() >= min_docs {
            self.impacts = cache.get(segment, &self.term, || {
                WindowImpacts::build(segment, &self.term)
            })?;
        }
        Ok(())
    }

    /// The most the term adds to a product of window `window`.
    fn window_bound(&self, window: usize) -> Score {
        let Some(impacts) = &self.impacts else {
            return self.bound;
        };
        match impacts.0.get(window) {
            None | Some(Impact { max_tf: 0, .. }) => 0.0,
            Some(Impact {
                max_tf: u8::MAX, ..
            }) => self.bound,
            Some(&Impact { min_norm, max_tf }) => self.weight.score(min_norm, u32::from(max_tf)),
        }
    }

    /// The term's score in `doc`, where the postings stand.
    fn score_here(&self, doc: DocId) -> Score {
        let fieldnorm_id = self.norms.fieldnorm_id(doc);
        match (self.postings.term_freq(), &self.once) {
            (1, Some(once)) => once[usize::from(fieldnorm_id)],
            (term_freq, _) => self.weight.score(fieldnorm_id, term_freq),
        }
    }

    /// The term's score in `doc`, `None` when `doc` lacks it. `doc` never
    /// decreases between calls.
    fn score_at(&mut self, doc: DocId) -> Option<Score> {
        (step_to(&mut self.postings, doc) == doc).then(|| self.score_here(doc))
    }
}

/// Postings, or what walks them.
trait Walk {
    fn postings(&mut self) -> &mut SegmentPostings;
}

impl Walk for SegmentPostings {
    fn postings(&mut self) -> &mut SegmentPostings {
        self
    }
}

impl Walk for TermCursor {
    fn postings(&mut self) -> &mut SegmentPostings {
        &mut self.postings
    }
}

/// Moves `walk` to its first document at or after `target` and returns it:
/// one step when that is the next document, else a seek (a search within
/// the block, or a skip to another block).
fn step_to(walk: &mut impl Walk, target: DocId) -> DocId {
    let postings = walk.postings();
    let doc = postings.doc();
    if doc >= target {
        doc
    } else if doc + 1 == target {
        postings.advance()
    } else {
        postings.seek(target)
    }
}

/// The first document at or after `target` holding every word of some
/// alternative (a word: any of its terms' postings); `TERMINATED` when
/// none is left. Each alternative keeps postings of its own, so one can
/// leap ahead without hiding a document from another.
fn next_required(alternatives: &mut [Vec<Vec<SegmentPostings>>], target: DocId) -> DocId {
    alternatives
        .iter_mut()
        .map(|words| next_in_alternative(words, target))
        .min()
        .unwrap_or(TERMINATED)
}

fn next_in_alternative(words: &mut [Vec<impl Walk>], mut target: DocId) -> DocId {
    'candidate: loop {
        for word in words.iter_mut() {
            let doc = word
                .iter_mut()
                .map(|walk| step_to(walk, target))
                .min()
                .unwrap_or(TERMINATED);
            if doc == TERMINATED {
                return TERMINATED;
            }
            if doc > target {
                // Leapfrog: every word must reach this document.
                target = doc;
                continue 'candidate;
            }
        }
        return target;
    }
}

fn levenshtein_builder(distance: u8) -> &'static levenshtein_automata::LevenshteinAutomatonBuilder {
    static ONE: OnceLock<levenshtein_automata::LevenshteinAutomatonBuilder> = OnceLock::new();
    static TWO: OnceLock<levenshtein_automata::LevenshteinAutomatonBuilder> = OnceLock::new();
    let cell = if distance <= 1 { &ONE } else { &TWO };
    cell.get_or_init(|| {
        levenshtein_automata::LevenshteinAutomatonBuilder::new(distance.min(2), true)
    })
}

/// A Levenshtein automaton over the term dictionary's bytes.
struct Levenshtein(levenshtein_automata::DFA);

impl tantivy_fst::Automaton for Levenshtein {
    type State = u32;

    fn start(&self) -> u32 {
        self.0.initial_state()
    }

    fn is_match(&self, state: &u32) -> bool {
        matches!(
            self.0.distance(*state),
            levenshtein_automata::Distance::Exact(_)
        )
    }

    fn can_match(&self, state: &u32) -> bool {
        *state != levenshtein_automata::SINK_STATE
    }

    fn accept(&self, state: &u32, byte: u8) -> u32 {
        self.0.transition(*state, byte)
    }
}

/// Most dictionary terms one misspelt word expands to, per field.
const MAX_FUZZY_EXPANSIONS: usize = 16;

impl CatalogIndex {
    /// The words of `field` in the index within `distance` edits of `word`
    /// (a transposition counts as one), with their document frequencies,
    /// most frequent first, at most `MAX_FUZZY_EXPANSIONS`.
    pub(crate) fn fuzzy_expansions(
        &self,
        searcher: &Searcher,
        field: Field,
        word: &str,
        distance: u8,
    ) -> Result<Vec<(Term, u64)>, CatalogError> {
        let mut found: HashMap<String, u64> = HashMap::new();
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(field)?;
            let automaton = Levenshtein(levenshtein_builder(distance).build_dfa(word));
            let mut stream = inverted
                .terms()
                .search(automaton)
                .into_stream()
                .map_err(index_io)?;
            while stream.advance() {
                if let Ok(text) = std::str::from_utf8(stream.key()) {
                    *found.entry(text.to_string()).or_default() +=
                        u64::from(stream.value().doc_freq);
                }
            }
        }
        let mut found: Vec<(String, u64)> = found.into_iter().collect();
        found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(found
            .into_iter()
            .take(MAX_FUZZY_EXPANSIONS)
            .map(|(text, doc_freq)| (Term::from_field_text(field, &text), doc_freq))
            .collect())
    }

    /// The best `k` products under `plan`, best first, as (score, product
    /// document).
    pub(crate) fn top_products(
        &self,
        searcher: &Searcher,
        plan: &ProductPlan,
        k: usize,
    ) -> Result<Vec<(Score, DocAddress)>, CatalogError> {
        if plan.scored.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let prepared = self.prepare(searcher, plan)?;
        if !plan.required.is_empty() && plan.required.iter().all(|words| !words.is_empty()) {
            return Ok(best_first(
                self.required_first(searcher, plan, &prepared, k)?,
            ));
        }
        let Prepared {
            statistics,
            scored,
            constant_bonuses: _,
            proximity_weights: _,
            proximity_bounds: _,
            max_bonus,
            required_floor,
        } = &prepared;
        let (max_bonus, required_floor) = (*max_bonus, *required_floor);
        let enable = || EnableScoring::enabled_from_statistics_provider(statistics, searcher);

        let mut heap: BinaryHeap<Reverse<Hit>> = BinaryHeap::with_capacity(k + 1);
        let mut aborted = false;
        let mut segments = Vec::new();
        for (segment_ord, segment) in searcher.segment_readers().iter().enumerate() {
            let Some((weight, scale)) = segment_union(segment, scored, &enable)? else {
                continue;
            };
            if !aborted {
                let mut checks = self.segment_checks(
                    segment,
                    plan,
                    &prepared,
                    &prepared.constant_bonuses,
                    true,
                )?;
                let segment_ord = segment_ord as u32;
                let alive = segment.alive_bitset();
                let threshold_for = |heap: &BinaryHeap<Reverse<Hit>>| {
                    let floor = required_floor / scale;
                    match heap.peek() {
                        // Exactly the worst kept: a product that only ties it
                        // comes later and would lose the tie, so WAND may
                        // skip it (with many equal products, most of the
                        // saving). Rounding can only decide near-ties.
                        Some(Reverse(worst)) if heap.len() >= k => {
                            ((worst.score - max_bonus) / scale).max(floor)
                        }
                        _ => floor,
                    }
                };
                let start = threshold_for(&heap);
                let mut rejected = 0usize;
                let mut callback = |doc: DocId, text_score: Score| -> Score {
                    if aborted {
                        return Score::MAX;
                    }
                    if !alive.is_none_or(|alive| alive.is_alive(doc))
                        || !checks.satisfies_required(doc)
                    {
                        return threshold_for(&heap);
                    }
                    if checks.columns.passes(&plan.filters, doc) {
                        let score = text_score * scale + checks.bonus(doc);
                        offer_hit(
                            &mut heap,
                            k,
                            Hit {
                                score,
                                address: DocAddress::new(segment_ord, doc),
                            },
                        );
                    } else {
                        rejected += 1;
                        // The filters turn most products away: WAND cannot
                        // raise its threshold, so filter first instead.
                        if rejected > MAX_REJECTED && heap.len() < k {
                            aborted = true;
                            return Score::MAX;
                        }
                    }
                    threshold_for(&heap)
                };
                weight.for_each_pruning(start, segment, &mut callback)?;
            }
            segments.push((segment_ord, weight, scale));
        }
        if aborted {
            heap = self.filter_first(searcher, plan, &segments, &prepared, k)?;
        }
        Ok(best_first(heap))
    }

    /// What every search under `plan` needs before walking segments: the
    /// BM25 statistics, the terms scored (words and attributes), the
    /// proximity weights, the most the bonuses can add, and the least a
    /// product holding the required words scores.
    fn prepare<'a>(
        &self,
        searcher: &'a Searcher,
        plan: &ProductPlan,
    ) -> Result<Prepared<'a>, CatalogError> {
        let mut statistics = CachedStatistics {
            searcher,
            // As tantivy counts: deleted documents included, as they are
            // in document frequencies until merged away.
            total_docs: searcher
                .segment_readers()
                .iter()
                .map(|segment| u64::from(segment.max_doc()))
                .sum(),
            doc_freqs: HashMap::new(),
            total_tokens: HashMap::new(),
        };
        for scored in &plan.scored {
            statistics.remember(&scored.term, scored.doc_freq)?;
        }
        // An attribute term matches at term frequency 1 and is scored without
        // length normalisation, so its BM25 score is one number per search:
        // scale it to the boost.
        let mut scored = plan.scored.clone();
        let mut constant_bonuses = plan.codes.clone();
        for (term, boost) in &plan.attributes {
            let doc_freq = searcher.doc_freq(term)?;
            if doc_freq == 0 {
                continue;
            }
            statistics.remember_flat(term, doc_freq);
            let unit = Bm25Weight::for_terms(&statistics, std::slice::from_ref(term))?.score(1, 1);
            // An attribute most products share (a common size) is a poor
            // guide for WAND, which would step through its long posting
            // list block by block: it is added by the checks instead.
            if doc_freq.saturating_mul(DENSE_ATTRIBUTE_SHARE) > statistics.total_docs {
                constant_bonuses.push((term.clone(), *boost));
            } else if unit > 0.0 {
                scored.push(ScoredTerm {
                    term: term.clone(),
                    weight: boost / unit,
                    doc_freq,
                });
            }
        }

        let enable = || EnableScoring::enabled_from_statistics_provider(&statistics, searcher);
        let mut proximity_weights: Vec<ScaledWeight> = Vec::new();
        let mut proximity_bounds = Vec::new();
        // The most the checks can add to a product's word score.
        let mut max_bonus: Score = 0.0;
        for bonus in &plan.proximity {
            let terms: Vec<Term> = bonus.query.phrase_terms().into_iter().collect();
            let bound = Bm25Weight::for_terms(&statistics, &terms)?.max_score() * bonus.boost;
            max_bonus += bound;
            proximity_bounds.push(bound);
            proximity_weights.push((bonus.query.weight(enable())?, bonus.boost));
        }
        max_bonus += constant_bonuses
            .iter()
            .map(|(_, value)| *value)
            .sum::<f32>();
        // The least a product holding the words it must hold can score: each
        // word at least once, in the longest field that has it. WAND starts
        // there, so products sharing only a colour or a size with the
        // request are skipped in whole blocks.
        let mut term_floor: HashMap<&Term, Score> = HashMap::new();
        for scored in &plan.scored {
            let least = Bm25Weight::for_terms(&statistics, std::slice::from_ref(&scored.term))?
                .score(u8::MAX, 1);
            term_floor.insert(&scored.term, least * scored.weight);
        }
        let word_floor = |terms: &[Term]| {
            terms
                .iter()
                .filter_map(|term| term_floor.get(term).copied())
                .reduce(f32::min)
        };
        let required_floor: Score = if plan.required.is_empty() {
            term_floor.values().copied().reduce(f32::min).unwrap_or(0.0)
        } else {
            plan.required
                .iter()
                .filter_map(|words| {
                    words
                        .iter()
                        .map(|terms| word_floor(terms))
                        .sum::<Option<Score>>()
                })
                .reduce(f32::min)
                .unwrap_or(0.0)
        };
        // Slightly under: rounding must never skip a product that qualifies.
        let required_floor = required_floor * 0.999;
        Ok(Prepared {
            statistics,
            scored,
            constant_bonuses,
            proximity_weights,
            proximity_bounds,
            max_bonus,
            required_floor,
        })
    }

    /// The top `k` by scoring every product that holds the words and passes
    /// the filters: what `top_products` must equal.
    #[cfg(test)]
    pub(crate) fn exhaustive_top_products(
        &self,
        searcher: &Searcher,
        plan: &ProductPlan,
        k: usize,
    ) -> Result<Vec<(Score, DocAddress)>, CatalogError> {
        if plan.scored.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let prepared = self.prepare(searcher, plan)?;
        let enable =
            || EnableScoring::enabled_from_statistics_provider(&prepared.statistics, searcher);
        let mut segments = Vec::new();
        for (segment_ord, segment) in searcher.segment_readers().iter().enumerate() {
            if let Some((weight, scale)) = segment_union(segment, &prepared.scored, &enable)? {
                segments.push((segment_ord, weight, scale));
            }
        }
        let heap = self.filter_first(searcher, plan, &segments, &prepared, k)?;
        Ok(best_first(heap))
    }

    /// The top `k` found the other way round, when WAND could not do it
    /// alone: every product holding the words (all the required ones, or
    /// any) is checked against the filters, and only those passing are
    /// scored. Costs one pass over the matching products, but no scoring
    /// of those the filters reject.
    fn filter_first(
        &self,
        searcher: &Searcher,
        plan: &ProductPlan,
        segments: &[(usize, Box<dyn Weight>, f32)],
        prepared: &Prepared,
        k: usize,
    ) -> Result<BinaryHeap<Reverse<Hit>>, CatalogError> {
        let term_query = |term: &Term| -> Box<dyn Query> {
            Box::new(TermQuery::new(term.clone(), IndexRecordOption::Basic))
        };
        let any = |terms: &[Term]| -> Box<dyn Query> {
            Box::new(BooleanQuery::new(
                terms
                    .iter()
                    .map(|t| (Occur::Should, term_query(t)))
                    .collect(),
            ))
        };
        let matching: Box<dyn Query> = if plan.required.is_empty() {
            let words: Vec<Term> = plan.scored.iter().map(|s| s.term.clone()).collect();
            any(&words)
        } else {
            let alternatives: Vec<(Occur, Box<dyn Query>)> = plan
                .required
                .iter()
                .filter(|words| words.iter().all(|terms| !terms.is_empty()))
                .map(|words| {
                    let all: Vec<(Occur, Box<dyn Query>)> = words
                        .iter()
                        .map(|terms| (Occur::Must, any(terms)))
                        .collect();
                    (
                        Occur::Should,
                        Box::new(BooleanQuery::new(all)) as Box<dyn Query>,
                    )
                })
                .collect();
            Box::new(BooleanQuery::new(alternatives))
        };
        let matching = matching.weight(EnableScoring::disabled_from_searcher(searcher))?;
        let mut heap = BinaryHeap::with_capacity(k + 1);
        for (segment_ord, union, scale) in segments {
            let segment = searcher.segment_reader(*segment_ord as u32);
            // `matching` finds the products holding the required words.
            let mut checks =
                self.segment_checks(segment, plan, prepared, &prepared.constant_bonuses, false)?;
            let alive = segment.alive_bitset();
            let mut passing: Vec<DocId> = Vec::new();
            matching.for_each_no_score(segment, &mut |docs: &[DocId]| {
                for &doc in docs {
                    if alive.is_none_or(|alive| alive.is_alive(doc))
                        && checks.columns.passes(&plan.filters, doc)
                    {
                        passing.push(doc);
                    }
                }
            })?;
            let mut scorer = union.scorer(segment, 1.0)?;
            for doc in passing {
                let text = if contains(scorer.as_mut() as &mut dyn DocSet, doc) {
                    scorer.score() * scale
                } else {
                    0.0
                };
                let score = text + checks.bonus(doc);
                offer_hit(
                    &mut heap,
                    k,
                    Hit {
                        score,
                        address: DocAddress::new(*segment_ord as u32, doc),
                    },
                );
            }
        }
        Ok(heap)
    }

    /// The top `k` when the plan names words a product must hold (a
    /// product type, or any of the words next to an attribute): the
    /// products holding them are walked in order, and each is scored only
    /// as far as it can still reach the top.
    ///
    /// A product's score is its required words' scores (exact, read first),
    /// plus the other terms, the constant bonuses and the proximity clauses.
    /// Those are bounded by their maxima, which are replaced by exact
    /// values one at a time, largest first, until the bound falls to the
    /// worst of the top `k` (the product is dropped) or nothing is left
    /// (the product is offered to the top `k`). The filters come right
    /// after the required words. A product that only ties the worst kept
    /// is dropped: it comes later and would lose the tie.
    ///
    /// Unlike WAND over the union, this never visits a product that lacks
    /// the required words (however much its colour or size adds), and
    /// bounds each product by its own required-word score rather than by
    /// a block's best.
    fn required_first(
        &self,
        searcher: &Searcher,
        plan: &ProductPlan,
        prepared: &Prepared,
        k: usize,
    ) -> Result<BinaryHeap<Reverse<Hit>>, CatalogError> {
        let required_terms: HashSet<&Term> = plan.required.iter().flatten().flatten().collect();
        // An attribute term scores the same in every product holding it
        // (see `CachedStatistics::remember_flat`): this walk adds it as a
        // constant, tested in a bit set where it is common, instead of
        // scoring it from postings as WAND must.
        let mut constants = prepared.constant_bonuses.clone();
        let mut scored_words = Vec::with_capacity(prepared.scored.len());
        let mut weights = Vec::with_capacity(prepared.scored.len());
        for scored in &prepared.scored {
            let weight =
                Bm25Weight::for_terms(&prepared.statistics, std::slice::from_ref(&scored.term))?
                    .boost_by(scored.weight);
            if plan.attributes.iter().any(|(term, _)| *term == scored.term) {
                constants.push((scored.term.clone(), weight.score(0, 1)));
            } else {
                scored_words.push(scored);
                weights.push(weight);
            }
        }
        // A required word that is not scored only finds products.
        let zero_weight = weights
            .first()
            .map(|weight| weight.boost_by(0.0))
            .unwrap_or_else(|| Bm25Weight::for_one_term_without_explain(0, 1, 1.0).boost_by(0.0));
        // The segments are walked on every core when the index is large
        // enough for that to pay, into one shared top `k`: each walk prunes
        // against the best found by all, and a hit's address breaks ties,
        // so the result is the same as walking them one after another.
        let top = SharedTop::new(k);
        let walk_segment = |segment_ord: usize,
                            segment: &SegmentReader|
         -> Result<(), CatalogError> {
            // One alternative is walked with the scoring cursors below.
            let several = plan.required.len() > 1;
            let mut checks = self.segment_checks(segment, plan, prepared, &constants, several)?;
            let mut cursors: Vec<(&Term, TermCursor)> = Vec::new();
            for (scored, weight) in scored_words.iter().zip(&weights) {
                if let Some(cursor) = TermCursor::open(segment, &scored.term, weight)? {
                    cursors.push((&scored.term, cursor));
                }
            }
            // With one alternative (the usual case) its words are walked
            // with the cursors that score them, so each posting list is
            // read once. Several alternatives walk postings of their own.
            let mut single: Vec<Vec<TermCursor>> = Vec::new();
            if let [words] = plan.required.as_slice() {
                for terms in words {
                    let mut word = Vec::new();
                    for term in terms {
                        if let Some(at) = cursors.iter().position(|(t, _)| *t == term) {
                            word.push(cursors.swap_remove(at).1);
                        } else if let Some(cursor) = TermCursor::open(segment, term, &zero_weight)?
                        {
                            word.push(cursor);
                        }
                    }
                    single.push(word);
                }
            }
            for cursor in single.iter_mut().flatten() {
                cursor.load_impacts(&self.impacts, segment, IMPACTS_MIN_DOCS)?;
            }
            let (mut inside, mut outside): (Vec<TermCursor>, Vec<TermCursor>) = cursors
                .into_iter()
                .map(|(_, cursor)| cursor)
                .partition(|cursor| single.is_empty() && required_terms.contains(&cursor.term));
            // Largest first: a missing term that could add much is the
            // likeliest to bring the bound under the worst kept.
            outside.sort_by(|a, b| b.bound.total_cmp(&a.bound));
            checks.codes.sort_by(|a, b| b.1.total_cmp(&a.1));
            for cursor in &mut outside {
                cursor.load_impacts(&self.impacts, segment, 0)?;
            }
            // What codes and proximity can add, whatever the window.
            let fixed_rest: Score = checks.codes.iter().map(|(_, value)| *value).sum::<Score>()
                + prepared.proximity_bounds.iter().sum::<Score>();
            let mut bounds = WindowBounds {
                outside: outside.iter().map(|c| c.bound).collect(),
                rest: 0.0,
            };
            bounds.rest = bounds.outside.iter().sum::<Score>() + fixed_rest;
            let alive = segment.alive_bitset();
            let segment_ord = segment_ord as u32;
            let next =
                |target: DocId, single: &mut Vec<Vec<TermCursor>>, checks: &mut SegmentChecks| {
                    if single.is_empty() {
                        next_required(&mut checks.required, target)
                    } else {
                        next_in_alternative(single, target)
                    }
                };
            let mut worst = WorstReader::new(&top, segment_ord);
            let evaluate = |doc: DocId,
                            required_score: Score,
                            checks: &mut SegmentChecks,
                            outside: &mut [TermCursor],
                            bounds: &WindowBounds,
                            worst: &mut WorstReader| {
                let now = worst.get();
                if alive.is_none_or(|alive| alive.is_alive(doc)) {
                    if let Some(score) =
                        checks.score_within(doc, required_score, outside, bounds, now, plan)
                    {
                        top.offer(Hit {
                            score,
                            address: DocAddress::new(segment_ord, doc),
                        });
                        worst.read_next_time();
                    }
                }
            };
            // Whether a product of window `window` can still make the top:
            // some product there must fall in the filters' ranges, and the
            // required words' best scores there, plus the common bonuses
            // some product there holds, plus the most the outside words add
            // there and the rest can add, must beat the worst kept. Where a
            // catalog keeps like products together, whole windows of the
            // wrong colour or price fall away and are stepped over. Sets
            // the outside words' bounds for the window's products.
            let window_open = |window: usize,
                               required: &mut dyn Iterator<Item = &TermCursor>,
                               checks: &SegmentChecks,
                               outside: &[TermCursor],
                               bounds: &mut WindowBounds,
                               worst: &mut WorstReader| {
                if !checks.columns.window_may_pass(&plan.filters, window) {
                    return false;
                }
                for (bound, cursor) in bounds.outside.iter_mut().zip(outside) {
                    *bound = cursor.window_bound(window);
                }
                bounds.rest = bounds.outside.iter().sum::<Score>() + fixed_rest;
                let bound = required.map(|c| c.window_bound(window)).sum::<Score>()
                    + checks.window_set_bonus(window)
                    + bounds.rest;
                worst.get().beaten_by(bound * (1.0 + WINDOW_BOUND_SLACK))
            };
            let window_end =
                |window: usize| ((window + 1) * WINDOW_DOCS).min(TERMINATED as usize) as DocId;
            if let [word] = single.as_mut_slice() {
                // One word (the usual product type): its products are the
                // union of its terms' postings, each scored and stepped on
                // as it is passed.
                let first = |word: &[TermCursor]| {
                    word.iter()
                        .map(|cursor| cursor.postings.doc())
                        .min()
                        .unwrap_or(TERMINATED)
                };
                let mut doc = first(word);
                let mut window = usize::MAX;
                while doc < segment.max_doc() {
                    let here = doc as usize / WINDOW_DOCS;
                    if here != window {
                        window = here;
                        if !window_open(
                            here,
                            &mut word.iter(),
                            &checks,
                            &outside,
                            &mut bounds,
                            &mut worst,
                        ) {
                            #[cfg(test)]
                            WINDOWS_SKIPPED.fetch_add(1, AtomicOrdering::Relaxed);
                            for cursor in word.iter_mut() {
                                step_to(cursor, window_end(here));
                            }
                            doc = first(word);
                            continue;
                        }
                    }
                    let mut required_score: Score = 0.0;
                    for cursor in word.iter_mut() {
                        if cursor.postings.doc() == doc {
                            required_score += cursor.score_here(doc);
                            cursor.postings.advance();
                        }
                    }
                    evaluate(
                        doc,
                        required_score,
                        &mut checks,
                        &mut outside,
                        &bounds,
                        &mut worst,
                    );
                    doc = first(word);
                }
                return Ok(());
            }
            let mut doc = next(0, &mut single, &mut checks);
            let mut window = usize::MAX;
            while doc < segment.max_doc() {
                let here = doc as usize / WINDOW_DOCS;
                if !single.is_empty() && here != window {
                    window = here;
                    if !window_open(
                        here,
                        &mut single.iter().flatten(),
                        &checks,
                        &outside,
                        &mut bounds,
                        &mut worst,
                    ) {
                        #[cfg(test)]
                        WINDOWS_SKIPPED.fetch_add(1, AtomicOrdering::Relaxed);
                        doc = next(window_end(here), &mut single, &mut checks);
                        continue;
                    }
                }
                // The walk left every cursor of `single` at or past `doc`.
                let required_score: Score = if single.is_empty() {
                    inside.iter_mut().filter_map(|c| c.score_at(doc)).sum()
                } else {
                    single
                        .iter_mut()
                        .flatten()
                        .filter_map(|c| c.score_at(doc))
                        .sum()
                };
                evaluate(
                    doc,
                    required_score,
                    &mut checks,
                    &mut outside,
                    &bounds,
                    &mut worst,
                );
                doc = next(doc + 1, &mut single, &mut checks);
            }
            Ok(())
        };
        let segments = searcher.segment_readers();
        let required_postings: u64 = prepared
            .scored
            .iter()
            .filter(|scored| required_terms.contains(&scored.term))
            .map(|scored| scored.doc_freq)
            .sum();
        let walked: Result<(), CatalogError> =
            if segments.len() > 1 && required_postings >= PARALLEL_MIN_POSTINGS {
                // This thread walks the largest segment itself while the pool
                // takes the others: it neither sleeps until the pool is done nor
                // waits to be woken, which costs as much as a small walk.
                let mut order: Vec<usize> = (0..segments.len()).collect();
                order.sort_by_key(|&ord| Reverse(segments[ord].max_doc()));
                let failure: Mutex<Option<CatalogError>> = Mutex::new(None);
                let record = |walked: Result<(), CatalogError>| {
                    if let Err(error) = walked {
                        failure
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .get_or_insert(error);
                    }
                };
                rayon::in_place_scope(|scope| {
                    for &ord in &order[1..] {
                        let (walk_segment, record) = (&walk_segment, &record);
                        scope.spawn(move |_| record(walk_segment(ord, &segments[ord])));
                    }
                    record(walk_segment(order[0], &segments[order[0]]));
                });
                match failure
                    .into_inner()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                {
                    Some(error) => Err(error),
                    None => Ok(()),
                }
            } else {
                segments
                    .iter()
                    .enumerate()
                    .try_for_each(|(ord, segment)| walk_segment(ord, segment))
            };
        walked?;
        Ok(top.into_heap())
    }

    /// `constants`: the terms that add a constant when a product holds
    /// them. `with_required`: whether to open the required words'
    /// postings, for a walk that checks or leapfrogs them itself.
    fn segment_checks(
        &self,
        segment: &SegmentReader,
        plan: &ProductPlan,
        prepared: &Prepared,
        constants: &[(Term, f32)],
        with_required: bool,
    ) -> Result<SegmentChecks, CatalogError> {
        let postings = |term: &Term| term_postings(segment, term, IndexRecordOption::Basic);
        let mut required = Vec::new();
        for alternative in plan.required.iter().filter(|_| with_required) {
            let mut words = Vec::with_capacity(alternative.len());
            for word in alternative {
                let mut lists = Vec::new();
                for term in word {
                    if let Some(list) = postings(term)? {
                        lists.push(list);
                    }
                }
                words.push(lists);
            }
            required.push(words);
        }
        let (mut sets, mut codes) = (Vec::new(), Vec::new());
        for (term, value) in constants {
            let Some(info) = segment
                .inverted_index(term.field())?
                .get_term_info(term)
                .map_err(index_io)?
            else {
                continue;
            };
            if u64::from(info.doc_freq) * SET_SHARE >= u64::from(segment.max_doc()) {
                if let Some(set) = self
                    .term_sets
                    .get(segment, term, || DocBits::build(segment, term))?
                {
                    sets.push((set, *value));
                }
            } else if let Some(list) = postings(term)? {
                codes.push((list, *value));
            }
        }
        let mut proximity = Vec::new();
        for (weight, boost) in &prepared.proximity_weights {
            proximity.push(weight.scorer(segment, *boost)?);
        }
        Ok(SegmentChecks {
            required,
            sets,
            codes,
            proximity,
            columns: self.columns.get(segment)?,
        })
    }
}

/// `field`'s length norms in `segment` (all 1 where it keeps none).
fn field_norms(segment: &SegmentReader, field: Field) -> Result<FieldNormReader, CatalogError> {
    Ok(segment
        .fieldnorms_readers()
        .get_field(field)?
        .unwrap_or_else(|| FieldNormReader::constant(segment.max_doc(), 1)))
}

/// An I/O error reading the index's files.
fn index_io(error: std::io::Error) -> CatalogError {
    CatalogError::Index(error.into())
}

/// Hashes for the filters and boosts, as the index stores them.
pub fn hash_all(values: &[String]) -> Vec<u64> {
    values.iter().map(|v| stable_hash(v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::search::bench_requests;
    use crate::catalog::search::{queries_for_request, Ranker};
    use crate::intent::Parser;
    use crate::rules::CompiledRules;
    use std::sync::Arc;

    /// WAND with its bonuses and thresholds must return exactly what
    /// scoring every qualifying product returns: the same scores in the
    /// same order, on typed requests with filters and attributes, on free
    /// text with proximity and model codes, and under both rankers.
    #[test]
    fn pruned_search_equals_scoring_every_product() {
        let rules = Arc::new(CompiledRules::embedded().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let catalogs = crate::world::demo::generate();
        let index = CatalogIndex::build(dir.path(), &catalogs, &rules).unwrap();
        let parser = Parser::new(rules.clone());
        let mut texts = bench_requests(90);
        texts.extend(
            [
                "merino wool turtleneck",
                "waterproof rain jacket with hood",
                "classic crew socks 3 pack",
                "organic cotton tee under $20",
                "sweater not red",
                "something cozy and warm",
                "waterproof zip pockets",
                "merino crew neck",
            ]
            .map(String::from),
        );
        // A merchant loaded afterwards sits in segments of its own, so the
        // walks span several segments (in parallel, sharing one top k)
        // whatever the machine's core count.
        let mirror: Vec<_> = catalogs[0].products.iter().take(40).cloned().collect();
        index
            .load_merchant(&rules, "mirror", &mirror, 0, &mut |_| {})
            .unwrap();
        let searcher = index.reader.searcher();
        assert!(searcher.segment_readers().len() >= 2);
        let mut compared = 0;
        // Plans by how many required alternatives they have (0, 1, more):
        // each takes a different path through `top_products`.
        let mut paths = [0; 3];
        for text in &texts {
            for mut query in queries_for_request(&parser.parse(text)) {
                for ranker in [Ranker::Full, Ranker::Bm25] {
                    query.ranker = ranker;
                    let Ok(plan) = index.product_plan(&query, &searcher) else {
                        continue;
                    };
                    paths[plan.required.len().min(2)] += 1;
                    for k in [1, 10, 60] {
                        let pruned = index.top_products(&searcher, &plan, k).unwrap();
                        let every = index.exhaustive_top_products(&searcher, &plan, k).unwrap();
                        assert_eq!(pruned.len(), every.len(), "{text} k={k} {ranker:?}");
                        for (a, b) in pruned.iter().zip(&every) {
                            assert!(
                                (a.0 - b.0).abs() <= 1e-3 * b.0.abs().max(1.0),
                                "{text} k={k} {ranker:?}: {pruned:?} vs {every:?}"
                            );
                        }
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 500, "{compared}");
        assert!(WINDOWS_SKIPPED.load(AtomicOrdering::Relaxed) > 0);
        assert!(paths.iter().all(|&plans| plans > 0), "{paths:?}");
    }
}
