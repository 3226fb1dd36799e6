//! An in-process store for tests and development: bounded, and swept by the engine's purge.
//!
//! When full it refuses new sessions ([`StoreError::Full`]) after dropping expired ones, rather
//! than evicting live sessions and silently logging real users out.
//!
//! Records are boxed so that growing the map moves 40-byte slots, not whole records: the
//! stall while the table doubles under the write lock stays short. The subject index keeps a
//! subject's only session inline, the common case, without a per-subject heap set.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use crate::clock::Timestamp;
use crate::record::Record;
use crate::store::{Created, Store, StoreError, Updated};
use crate::token::SessionId;

/// Default capacity of [`MemoryStore::new`].
pub const DEFAULT_CAPACITY: usize = 1_000_000;

/// Sessions in a hash map behind one lock, with a per-subject index.
#[derive(Debug)]
pub struct MemoryStore {
    capacity: usize,
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    records: HashMap<SessionId, Box<Record>>,
    by_subject: HashMap<Box<str>, Ids>,
}

/// The sessions of one subject: usually one, stored inline.
#[derive(Debug)]
enum Ids {
    One(SessionId),
    Many(HashSet<SessionId>),
}

impl Ids {
    fn insert(&mut self, id: SessionId) {
        match self {
            Ids::One(existing) if *existing == id => {}
            Ids::One(existing) => *self = Ids::Many([*existing, id].into_iter().collect()),
            Ids::Many(set) => {
                set.insert(id);
            }
        }
    }

    /// Removes `id`; true when no id is left.
    fn remove(&mut self, id: &SessionId) -> bool {
        match self {
            Ids::One(existing) => existing == id,
            Ids::Many(set) => {
                set.remove(id);
                set.is_empty()
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = &SessionId> {
        let (one, many) = match self {
            Ids::One(id) => (Some(id), None),
            Ids::Many(set) => (None, Some(set.iter())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

impl State {
    fn index(&mut self, subject: &str, id: SessionId) {
        match self.by_subject.get_mut(subject) {
            Some(ids) => ids.insert(id),
            None => {
                self.by_subject.insert(subject.into(), Ids::One(id));
            }
        }
    }

    fn unindex(&mut self, subject: &str, id: &SessionId) {
        if self
            .by_subject
            .get_mut(subject)
            .is_some_and(|ids| ids.remove(id))
        {
            self.by_subject.remove(subject);
        }
    }

    fn remove(&mut self, id: &SessionId) -> Option<Box<Record>> {
        let record = self.records.remove(id)?;
        if let Some(subject) = &record.subject {
            self.unindex(subject, id);
        }
        Some(record)
    }

    fn purge(&mut self, now: Timestamp, limit: usize) -> u64 {
        let dead: Vec<SessionId> = self
            .records
            .values()
            .filter(|r| r.expires_at() <= now)
            .map(|r| r.id)
            .take(limit)
            .collect();
        for id in &dead {
            self.remove(id);
        }
        dead.len() as u64
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
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
            state: RwLock::new(State::default()),
        }
    }

    /// How many records are held (live or not yet purged).
    pub fn len(&self) -> usize {
        self.state.read().map(|s| s.records.len()).unwrap_or(0)
    }

    /// True when no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, State>, StoreError> {
        self.state.write().map_err(|_| poisoned())
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, State>, StoreError> {
        self.state.read().map_err(|_| poisoned())
    }
}

fn poisoned() -> StoreError {
    StoreError::Unavailable {
        message: "memory store lock poisoned".into(),
        source: None,
    }
}

impl Store for MemoryStore {
    async fn create(&self, record: &Record) -> Result<Created, StoreError> {
        let mut state = self.write()?;
        if state.records.contains_key(&record.id) {
            return Ok(Created::Collision);
        }
        if state.records.len() >= self.capacity {
            state.purge(record.created_at, usize::MAX);
            if state.records.len() >= self.capacity {
                return Err(StoreError::Full {
                    capacity: self.capacity,
                });
            }
        }
        if let Some(subject) = &record.subject {
            state.index(subject, record.id);
        }
        state.records.insert(record.id, Box::new(record.clone()));
        Ok(Created::Inserted)
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        Ok(self.read()?.records.get(id).map(|r| Record::clone(r)))
    }

    async fn update(&self, record: &Record, expected: u64) -> Result<Updated, StoreError> {
        let mut state = self.write()?;
        let Some(stored) = state.records.get_mut(&record.id) else {
            return Ok(Updated::Missing);
        };
        if stored.version != expected {
            return Ok(Updated::VersionMismatch);
        }
        // The engine never changes a record's subject in place; keep the index honest anyway.
        let old_subject = std::mem::replace(&mut **stored, record.clone()).subject;
        if old_subject != record.subject {
            if let Some(old) = old_subject {
                state.unindex(&old, &record.id);
            }
            if let Some(new) = &record.subject {
                state.index(new, record.id);
            }
        }
        Ok(Updated::Written)
    }

    async fn delete(&self, id: &SessionId) -> Result<bool, StoreError> {
        Ok(self.write()?.remove(id).is_some())
    }

    async fn list_by_subject(&self, subject: &str) -> Result<Vec<Record>, StoreError> {
        let state = self.read()?;
        Ok(state
            .by_subject
            .get(subject)
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| state.records.get(id).map(|r| Record::clone(r)))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn delete_by_subject(
        &self,
        subject: &str,
        except: Option<&SessionId>,
    ) -> Result<u64, StoreError> {
        let mut state = self.write()?;
        let ids: Vec<SessionId> = state
            .by_subject
            .get(subject)
            .map(|ids| {
                ids.iter()
                    .filter(|id| Some(*id) != except)
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        for id in &ids {
            state.remove(id);
        }
        Ok(ids.len() as u64)
    }

    async fn purge_expired(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError> {
        Ok(self.write()?.purge(now, limit))
    }
}
