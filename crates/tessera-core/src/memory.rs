//! An in-process store for tests and development: bounded, sharded, and swept by the engine's
//! purge.
//!
//! When full it refuses new sessions ([`StoreError::Full`]) after dropping expired ones, rather
//! than evicting live sessions and silently logging real users out.
//!
//! Records live in 16 shards chosen by session id, and the per-subject index in 16 shards chosen
//! by subject, each behind its own lock: a table that doubles while it grows stalls one shard,
//! not the whole store. Records are boxed, so a rehash moves small slots, not whole records,
//! and a shard's table holds only the box: the id is read from the record, not stored twice.
//!
//! Lock order, everywhere: a subject shard before a record shard. `create` holds the subject's
//! shard while it inserts, and `delete_by_subject` holds it while it deletes, so a revoke-all
//! sees every create acknowledged before it began.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::clock::Timestamp;
use crate::keyring::{SigningKey, KEYS_KEPT};
use crate::record::Record;
use crate::store::{Created, Store, StoreError, Updated};
use crate::token::SessionId;

/// Default capacity of [`MemoryStore::new`].
pub const DEFAULT_CAPACITY: usize = 1_000_000;
const SHARDS: usize = 16;

/// Passes a `u64` through as its own hash. Every key hashed with it is already a hash no client
/// can steer: a session id's first eight bytes ([`id_hash`]) or a keyed hash of a subject
/// ([`SubjectMap::key`]), so hashing it again only costs time, on every lookup and rehash.
#[derive(Debug, Default, Clone, Copy)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else rather than drop it.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type PassThroughMap<V> = HashMap<u64, V, BuildHasherDefault<PassThrough>>;

/// The hash of a session id: its first eight bytes. A session id is a SHA-256 output of a
/// secret selector, so these bytes are uniform and no client can aim them at a bucket.
fn id_hash(id: &SessionId) -> u64 {
    let [a, b, c, d, e, f, g, h, ..] = *id.as_bytes();
    u64::from_le_bytes([a, b, c, d, e, f, g, h])
}

/// The record shard of a session id hash: bits the tables themselves do not use (they index
/// buckets with the low bits and tag them with the top seven).
fn shard_of(hash: u64) -> usize {
    usize::try_from((hash >> 32) % SHARDS as u64).unwrap_or(0)
}

/// One shard's records, keyed by their own `id`.
#[derive(Debug, Default)]
struct Shard(hashbrown::HashTable<Box<Record>>);

impl Shard {
    fn get(&self, id: &SessionId) -> Option<&Record> {
        self.0.find(id_hash(id), |r| r.id == *id).map(|r| &**r)
    }

    /// The records whose id hashes to `hash` (in practice one at most).
    fn with_hash(&self, hash: u64) -> impl Iterator<Item = &Record> {
        self.0.iter_hash(hash).map(|r| &**r)
    }

    fn get_mut(&mut self, id: &SessionId) -> Option<&mut Box<Record>> {
        self.0.find_mut(id_hash(id), |r| r.id == *id)
    }

    /// Adds `record`; its id must not be here yet.
    fn insert_new(&mut self, record: Box<Record>) {
        self.0
            .insert_unique(id_hash(&record.id), record, |r| id_hash(&r.id));
    }

    fn remove(&mut self, id: &SessionId) -> Option<Box<Record>> {
        self.0
            .find_entry(id_hash(id), |r| r.id == *id)
            .ok()
            .map(|entry| entry.remove().0)
    }

    fn values(&self) -> impl Iterator<Item = &Record> {
        self.0.iter().map(|r| &**r)
    }
}

/// The sessions of one subject, as their [`id_hash`]es: usually one, stored inline. Two ids of
/// one subject sharing a hash (a 64-bit collision of SHA-256 outputs) are counted, not merged,
/// so removing one leaves the other indexed.
#[derive(Debug)]
enum Ids {
    One(u64),
    Many(Box<PassThroughMap<u32>>),
}

impl Ids {
    fn insert(&mut self, hash: u64) {
        match self {
            Ids::One(existing) => {
                let mut many = PassThroughMap::default();
                many.insert(*existing, 1);
                *many.entry(hash).or_insert(0) += 1;
                *self = Ids::Many(Box::new(many));
            }
            Ids::Many(set) => *set.entry(hash).or_insert(0) += 1,
        }
    }

    /// Removes one `hash`; true when no id is left.
    fn remove(&mut self, hash: u64) -> bool {
        match self {
            Ids::One(existing) => *existing == hash,
            Ids::Many(set) => {
                if let Some(n) = set.get_mut(&hash) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        set.remove(&hash);
                    }
                }
                set.is_empty()
            }
        }
    }

    fn to_vec(&self) -> Vec<u64> {
        match self {
            Ids::One(hash) => vec![*hash],
            Ids::Many(set) => set.keys().copied().collect(),
        }
    }
}

/// One shard of the per-subject index, with the revocation epochs of its subjects. An epoch
/// outlives the subject's sessions (it must not go back to 0), so it is kept apart from the ids.
#[derive(Debug, Default)]
struct SubjectMap {
    /// Each subject's session id hashes under a keyed 64-bit hash of the subject
    /// ([`Self::key`]), so neither the subject's text nor the 32-byte ids are held a second
    /// time (the records hold them). Subjects whose keys collide share an entry, and an id hash
    /// may match a record of another subject: every reader filters by the records' own subject.
    ids: PassThroughMap<Ids>,
    epochs: HashMap<Box<str>, u64>,
    keys: RandomState,
}

impl SubjectMap {
    fn epoch(&self, subject: &str) -> u64 {
        self.epochs.get(subject).copied().unwrap_or(0)
    }

    fn key(&self, subject: &str) -> u64 {
        self.keys.hash_one(subject)
    }

    /// The id hashes indexed under `subject`'s key; some may be a colliding subject's.
    fn ids_of(&self, subject: &str) -> Vec<u64> {
        self.ids
            .get(&self.key(subject))
            .map(Ids::to_vec)
            .unwrap_or_default()
    }
}

fn unindex(map: &mut SubjectMap, subject: &str, id: &SessionId) {
    let key = map.key(subject);
    if map
        .ids
        .get_mut(&key)
        .is_some_and(|ids| ids.remove(id_hash(id)))
    {
        map.ids.remove(&key);
    }
}

fn index(map: &mut SubjectMap, subject: &str, id: &SessionId) {
    let key = map.key(subject);
    match map.ids.get_mut(&key) {
        Some(ids) => ids.insert(id_hash(id)),
        None => {
            map.ids.insert(key, Ids::One(id_hash(id)));
        }
    }
}

/// Sessions in sharded hash maps, with a per-subject index.
#[derive(Debug)]
pub struct MemoryStore {
    capacity: usize,
    len: AtomicUsize,
    /// When a full store last scanned for expired records (ms): at most one scan a second, so
    /// a flood of logins into a full store costs one O(n) scan, not one per login.
    last_full_scan: std::sync::atomic::AtomicI64,
    records: Vec<RwLock<Shard>>,
    subjects: Vec<Mutex<SubjectMap>>,
    subject_hasher: RandomState,
    keys: Mutex<HashMap<String, Vec<SigningKey>>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

fn poisoned() -> StoreError {
    StoreError::Unavailable {
        message: "memory store lock poisoned".into(),
        source: None,
    }
}

impl MemoryStore {
    /// A store holding at most [`DEFAULT_CAPACITY`] sessions.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store holding at most `capacity` sessions.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity,
            len: AtomicUsize::new(0),
            last_full_scan: std::sync::atomic::AtomicI64::new(i64::MIN),
            records: (0..SHARDS).map(|_| RwLock::default()).collect(),
            subjects: (0..SHARDS).map(|_| Mutex::default()).collect(),
            subject_hasher: RandomState::new(),
            keys: Mutex::default(),
        }
    }

    /// How many records are held (live or not yet purged).
    pub fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }

    /// True when no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn record_shard(&self, hash: u64) -> Result<&RwLock<Shard>, StoreError> {
        self.records.get(shard_of(hash)).ok_or_else(poisoned)
    }

    fn read(&self, id: &SessionId) -> Result<RwLockReadGuard<'_, Shard>, StoreError> {
        self.read_hash(id_hash(id))
    }

    fn read_hash(&self, hash: u64) -> Result<RwLockReadGuard<'_, Shard>, StoreError> {
        self.record_shard(hash)?.read().map_err(|_| poisoned())
    }

    fn write(&self, id: &SessionId) -> Result<RwLockWriteGuard<'_, Shard>, StoreError> {
        self.write_hash(id_hash(id))
    }

    fn write_hash(&self, hash: u64) -> Result<RwLockWriteGuard<'_, Shard>, StoreError> {
        self.record_shard(hash)?.write().map_err(|_| poisoned())
    }

    fn subject_shard(&self, subject: &str) -> Result<MutexGuard<'_, SubjectMap>, StoreError> {
        let i = usize::try_from(self.subject_hasher.hash_one(subject) % SHARDS as u64).unwrap_or(0);
        self.subjects
            .get(i)
            .ok_or_else(poisoned)?
            .lock()
            .map_err(|_| poisoned())
    }

    /// Removes one record (and its index entry) if `keep` says so; true if removed.
    fn remove_if(
        &self,
        id: &SessionId,
        keep: impl Fn(&Record) -> bool,
    ) -> Result<bool, StoreError> {
        // Learn the subject first, then lock in order: subject shard, record shard.
        let subject = match self.read(id)?.get(id) {
            None => return Ok(false),
            Some(r) => r.subject.clone(),
        };
        let mut subjects = match &subject {
            Some(s) => Some(self.subject_shard(s)?),
            None => None,
        };
        let mut records = self.write(id)?;
        let Some(record) = records.get(id) else {
            return Ok(false);
        };
        if keep(record) || record.subject != subject {
            return Ok(false);
        }
        records.remove(id);
        if let (Some(map), Some(s)) = (subjects.as_mut(), &subject) {
            unindex(map, s, id);
        }
        self.len.fetch_sub(1, Ordering::SeqCst);
        Ok(true)
    }

    fn purge(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        for shard in &self.records {
            let budget = limit.saturating_sub(usize::try_from(removed).unwrap_or(usize::MAX));
            if budget == 0 {
                break;
            }
            let dead: Vec<SessionId> = shard
                .read()
                .map_err(|_| poisoned())?
                .values()
                .filter(|r| r.expires_at() <= now)
                .map(|r| r.id)
                .take(budget)
                .collect();
            for id in dead {
                if self.remove_if(&id, |r| r.expires_at() > now)? {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

impl Store for MemoryStore {
    async fn create(&self, record: &Record, epoch: Option<u64>) -> Result<Created, StoreError> {
        if self.len() >= self.capacity {
            let now = record.created_at.as_millis();
            let last = self.last_full_scan.load(Ordering::Relaxed);
            if now.saturating_sub(last) >= 1000
                && self
                    .last_full_scan
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                self.purge(record.created_at, usize::MAX)?;
            }
            if self.len() >= self.capacity {
                return Err(StoreError::Full {
                    capacity: self.capacity,
                });
            }
        }
        let mut subjects = match &record.subject {
            Some(s) => Some(self.subject_shard(s)?),
            None => None,
        };
        if let (Some(map), Some(s), Some(expected)) = (subjects.as_ref(), &record.subject, epoch) {
            if map.epoch(s) != expected {
                return Ok(Created::Revoked);
            }
        }
        let mut records = self.write(&record.id)?;
        if records.get(&record.id).is_some() {
            return Ok(Created::Collision);
        }
        records.insert_new(Box::new(record.clone()));
        if let (Some(map), Some(s)) = (subjects.as_mut(), &record.subject) {
            index(map, s, &record.id);
        }
        self.len.fetch_add(1, Ordering::SeqCst);
        Ok(Created::Inserted)
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        Ok(self.read(id)?.get(id).cloned())
    }

    async fn update(&self, record: &Record, expected: u64) -> Result<Updated, StoreError> {
        let old_subject = {
            let mut records = self.write(&record.id)?;
            let Some(stored) = records.get_mut(&record.id) else {
                return Ok(Updated::Missing);
            };
            if stored.version != expected {
                return Ok(Updated::VersionMismatch);
            }
            std::mem::replace(&mut **stored, record.clone()).subject
        };
        // The engine never changes a subject in place; keep the index honest if a caller does.
        if old_subject != record.subject {
            if let Some(old) = &old_subject {
                unindex(&mut *self.subject_shard(old)?, old, &record.id);
            }
            if let Some(new) = &record.subject {
                index(&mut *self.subject_shard(new)?, new, &record.id);
            }
        }
        Ok(Updated::Written)
    }

    async fn delete(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.remove_if(id, |_| false)
    }

    async fn subject_epoch(&self, subject: &str) -> Result<u64, StoreError> {
        Ok(self.subject_shard(subject)?.epoch(subject))
    }

    async fn list_by_subject(&self, subject: &str) -> Result<Vec<Record>, StoreError> {
        let hashes = self.subject_shard(subject)?.ids_of(subject);
        let mut out = Vec::with_capacity(hashes.len());
        for hash in hashes {
            out.extend(
                self.read_hash(hash)?
                    .with_hash(hash)
                    .filter(|r| r.subject.as_deref() == Some(subject))
                    .cloned(),
            );
        }
        Ok(out)
    }

    async fn delete_by_subject(
        &self,
        subject: &str,
        except: Option<&SessionId>,
    ) -> Result<Vec<SessionId>, StoreError> {
        let mut subjects = self.subject_shard(subject)?;
        let next = subjects.epoch(subject).saturating_add(1);
        subjects.epochs.insert(subject.into(), next);
        let hashes = subjects.ids_of(subject);
        let mut removed = Vec::with_capacity(hashes.len());
        for hash in hashes {
            let mut records = self.write_hash(hash)?;
            // Another subject's session under the same key or id hash is not this revocation's.
            let ids: Vec<SessionId> = records
                .with_hash(hash)
                .filter(|r| r.subject.as_deref() == Some(subject) && Some(&r.id) != except)
                .map(|r| r.id)
                .collect();
            for id in ids {
                records.remove(&id);
                removed.push(id);
                self.len.fetch_sub(1, Ordering::SeqCst);
                unindex(&mut subjects, subject, &id);
            }
        }
        Ok(removed)
    }

    async fn signing_keys(
        &self,
        purpose: &str,
        fresh: &SigningKey,
    ) -> Result<Vec<SigningKey>, StoreError> {
        let mut keys = self.keys.lock().map_err(|_| poisoned())?;
        Ok(keys
            .entry(purpose.to_owned())
            .or_insert_with(|| vec![*fresh])
            .clone())
    }

    async fn rotate_signing_key(
        &self,
        purpose: &str,
        fresh: &SigningKey,
    ) -> Result<(), StoreError> {
        let mut keys = self.keys.lock().map_err(|_| poisoned())?;
        let ring = keys.entry(purpose.to_owned()).or_default();
        ring.insert(0, *fresh);
        ring.truncate(KEYS_KEPT);
        Ok(())
    }

    async fn purge_expired(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError> {
        self.purge(now, limit)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::token::Token;

    fn record(subject: &str) -> Record {
        let token = Token::generate().unwrap();
        let at = Timestamp::from_millis(1_700_000_000_000);
        let until = Timestamp::from_millis(1_800_000_000_000);
        Record::new(&token, Some(subject), at, until, until)
    }

    /// Two subjects whose index keys collide share an entry; neither's listing or revoke-all
    /// may reach the other's sessions. (A keyed 64-bit hash makes a real collision unreachable,
    /// so the test puts bob's session under alice's key by hand.)
    #[tokio::test]
    async fn a_colliding_subject_is_neither_listed_nor_revoked() {
        let store = MemoryStore::new();
        let (alice, bob) = (record("alice"), record("bob"));
        for r in [&alice, &bob] {
            assert_eq!(store.create(r, None).await.unwrap(), Created::Inserted);
        }
        {
            let mut map = store.subject_shard("alice").unwrap();
            let key = map.key("alice");
            map.ids.get_mut(&key).unwrap().insert(id_hash(&bob.id));
        }
        let listed = store.list_by_subject("alice").await.unwrap();
        assert_eq!(listed.iter().map(|r| r.id).collect::<Vec<_>>(), [alice.id]);
        let removed = store.delete_by_subject("alice", None).await.unwrap();
        assert_eq!(removed, [alice.id]);
        assert!(
            store.load(&bob.id).await.unwrap().is_some(),
            "bob's session survives"
        );
        assert_eq!(store.list_by_subject("bob").await.unwrap().len(), 1);
        assert_eq!(store.len(), 1);
    }

    /// The index holds id hashes (the ids' first eight bytes). Two sessions of one subject
    /// whose ids share them are both listed, and signing one out leaves the other indexed, so
    /// a later revoke-all still reaches it.
    #[tokio::test]
    async fn sessions_sharing_an_id_hash_are_indexed_apart() {
        let store = MemoryStore::new();
        let first = record("alice");
        let mut bytes = *first.id.as_bytes();
        bytes[31] ^= 0xff;
        let second = Record {
            id: SessionId::from_bytes(bytes),
            ..record("alice")
        };
        assert_eq!(id_hash(&first.id), id_hash(&second.id));
        for r in [&first, &second] {
            assert_eq!(store.create(r, None).await.unwrap(), Created::Inserted);
        }
        assert_eq!(store.list_by_subject("alice").await.unwrap().len(), 2);
        assert!(store.delete(&first.id).await.unwrap());
        let listed = store.list_by_subject("alice").await.unwrap();
        assert_eq!(listed.iter().map(|r| r.id).collect::<Vec<_>>(), [second.id]);
        assert_eq!(
            store.delete_by_subject("alice", None).await.unwrap(),
            [second.id]
        );
        assert!(store.is_empty());
        assert!(store.subject_shard("alice").unwrap().ids.is_empty());
    }
}
