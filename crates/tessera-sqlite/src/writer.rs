//! The writer thread: group commit. It owns the write connection, takes every write waiting,
//! runs them in one transaction and answers each caller with what really committed.

use std::sync::mpsc;

use rusqlite::Connection;

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 256;

/// What the writer thread tells a job after its transaction: committed, or not.
pub(crate) type Deliver = Box<dyn FnOnce(bool) + Send>;
/// A write: runs one statement on the writer connection (or, given `None`, learns that it could
/// not run), then learns whether it committed.
pub(crate) type Job = Box<dyn FnOnce(Option<&Connection>) -> Deliver + Send>;

/// The writer thread: takes every job waiting, runs them in one transaction, answers them all.
///
/// A caller hears "written" only for a write that committed, and "failed" only for one that did
/// not: if a statement makes SQLite roll the transaction back (disk full, I/O error), the jobs
/// before it are told they failed and the jobs after it run and commit one by one. If the
/// transaction cannot begin (another process holds the file past the busy timeout), the whole
/// batch fails at once instead of waiting out the timeout job by job.
pub(crate) fn writer_loop(conn: Connection, jobs: mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if batch.len() == 1 {
            for job in batch {
                job(Some(&conn))(true);
            }
            continue;
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(target: "tessera::sqlite", error = %e, "cannot begin a write transaction; the batch fails");
            for job in batch {
                job(None)(true);
            }
            continue;
        }
        let mut pending: Vec<Deliver> = Vec::with_capacity(batch.len());
        let mut in_transaction = true;
        for job in batch {
            let deliver = job(Some(&conn));
            if !in_transaction {
                deliver(true); // ran in autocommit: it committed on its own, or reported its error
            } else if conn.is_autocommit() {
                // This statement's failure rolled the whole transaction back.
                tracing::error!(target: "tessera::sqlite", "a write rolled its batch back; the batch's earlier writes are reported as failed");
                for earlier in pending.drain(..) {
                    earlier(false);
                }
                deliver(false);
                in_transaction = false;
            } else {
                pending.push(deliver);
            }
        }
        if in_transaction {
            let committed = match conn.execute_batch("COMMIT") {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!(target: "tessera::sqlite", error = %e, "commit failed; the batch's writes are reported as failed");
                    let _ = conn.execute_batch("ROLLBACK");
                    false
                }
            };
            for deliver in pending {
                deliver(committed);
            }
        }
    }
}
