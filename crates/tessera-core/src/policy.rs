//! Session policy: timeouts, renewal and rotation windows, and per-subject limits.
//!
//! The defaults follow the OWASP Session Management Cheat Sheet and ASVS 5.0 V7: idle timeout
//! 30 minutes, absolute lifetime 8 hours, renewal throttle 60 seconds, rotation grace 5 seconds.
//! [`PolicyBuilder::build`] refuses values that would make a session unsafe or the engine's
//! promises meaningless; each refusal names the rule it broke.

use std::num::NonZeroUsize;
use std::time::Duration;

/// Longest absolute lifetime accepted without [`PolicyBuilder::allow_long_lifetime`].
pub const MAX_ABSOLUTE_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// Longest rotation grace window accepted: a rotated-out token must die quickly.
pub const MAX_ROTATION_GRACE: Duration = Duration::from_secs(60);
/// Shortest and longest life of a device-bound session's token between two proofs of
/// possession (W3C DBSC). Shorter than a minute makes the browser refresh on most requests;
/// longer than an hour leaves a stolen cookie useful for too long.
pub const DEVICE_BOUND_LIFETIME_RANGE: (Duration, Duration) =
    (Duration::from_secs(60), Duration::from_secs(3600));

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The idle timeout is below one second.
    #[error("idle timeout must be at least 1 second")]
    IdleTooShort,
    /// The idle timeout exceeds the absolute lifetime.
    #[error("idle timeout ({idle:?}) must not exceed the absolute lifetime ({absolute:?})")]
    IdleExceedsAbsolute {
        /// The idle timeout asked for.
        idle: Duration,
        /// The absolute lifetime asked for.
        absolute: Duration,
    },
    /// The absolute lifetime is longer than 30 days without the explicit opt-in.
    #[error("absolute lifetime {0:?} exceeds 30 days; call allow_long_lifetime() to accept it")]
    AbsoluteTooLong(Duration),
    /// The renewal throttle is not shorter than the idle timeout, so an active user would expire.
    #[error("renewal throttle ({throttle:?}) must be shorter than the idle timeout ({idle:?})")]
    ThrottleNotBelowIdle {
        /// The throttle asked for.
        throttle: Duration,
        /// The idle timeout asked for.
        idle: Duration,
    },
    /// The rotation grace window is longer than 60 seconds.
    #[error("rotation grace {0:?} exceeds the 60 second maximum")]
    GraceTooLong(Duration),
    /// A device-bound token's lifetime is outside 1 minute to 1 hour.
    #[error("device-bound token lifetime {0:?} must be between 1 minute and 1 hour")]
    DeviceBoundLifetime(Duration),
}

/// A validated session policy. Build one with [`Policy::builder`]; `Policy::default()` is the
/// OWASP-aligned default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    idle_timeout: Duration,
    absolute_lifetime: Duration,
    renewal_throttle: Duration,
    rotation_grace: Duration,
    max_sessions_per_subject: Option<NonZeroUsize>,
    device_bound_lifetime: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_lifetime: Duration::from_secs(8 * 3600),
            renewal_throttle: Duration::from_secs(60),
            rotation_grace: Duration::from_secs(5),
            max_sessions_per_subject: None,
            device_bound_lifetime: Duration::from_secs(10 * 60),
        }
    }
}

impl Policy {
    /// A builder starting from the defaults.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder {
            policy: Policy::default(),
            allow_long_lifetime: false,
        }
    }

    /// A session unused for this long ends.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// A session ends this long after login, however active.
    pub fn absolute_lifetime(&self) -> Duration {
        self.absolute_lifetime
    }

    /// The idle deadline is pushed back at most once per this interval. The effective idle
    /// timeout is therefore between `idle_timeout - renewal_throttle` and `idle_timeout`: never
    /// longer than configured.
    pub fn renewal_throttle(&self) -> Duration {
        self.renewal_throttle
    }

    /// How long a rotated-out token keeps working, for requests already in flight.
    pub fn rotation_grace(&self) -> Duration {
        self.rotation_grace
    }

    /// The most sessions one subject may hold; the oldest are evicted beyond it.
    pub fn max_sessions_per_subject(&self) -> Option<NonZeroUsize> {
        self.max_sessions_per_subject
    }

    /// How long a device-bound session's token works after its last proof of possession
    /// (default 10 minutes); its cookie's `Max-Age` is this less 30 s.
    pub fn device_bound_lifetime(&self) -> Duration {
        self.device_bound_lifetime
    }
}

/// Builds a [`Policy`], refusing unsafe values.
#[derive(Debug, Clone)]
pub struct PolicyBuilder {
    policy: Policy,
    allow_long_lifetime: bool,
}

impl PolicyBuilder {
    /// Sets the idle timeout (default 30 minutes).
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.policy.idle_timeout = d;
        self
    }

    /// Sets the absolute lifetime (default 8 hours, at most 30 days without the opt-in).
    pub fn absolute_lifetime(mut self, d: Duration) -> Self {
        self.policy.absolute_lifetime = d;
        self
    }

    /// Sets the renewal throttle (default 60 seconds).
    pub fn renewal_throttle(mut self, d: Duration) -> Self {
        self.policy.renewal_throttle = d;
        self
    }

    /// Sets the rotation grace window (default 5 seconds, at most 60).
    pub fn rotation_grace(mut self, d: Duration) -> Self {
        self.policy.rotation_grace = d;
        self
    }

    /// Sets how long a device-bound token works between proofs (default 10 minutes, 1 minute
    /// to 1 hour). Below about 2.5 minutes Chromium refreshes on every request: it renews a
    /// bound cookie once it has under about 2 minutes left (measured with Chromium 156, see
    /// docs/security.md), and the cookie's `Max-Age` is this less 30 s. Such values suit tests,
    /// not deployments.
    pub fn device_bound_lifetime(mut self, d: Duration) -> Self {
        self.policy.device_bound_lifetime = d;
        self
    }

    /// Caps the sessions per subject; beyond the cap the oldest session is evicted.
    pub fn max_sessions_per_subject(mut self, n: NonZeroUsize) -> Self {
        self.policy.max_sessions_per_subject = Some(n);
        self
    }

    /// Accepts an absolute lifetime longer than 30 days ("remember me for a year"). This is an
    /// explicit, unsafe opt-in: a stolen token then stays useful for that long.
    pub fn allow_long_lifetime(mut self) -> Self {
        self.allow_long_lifetime = true;
        self
    }

    /// Validates and returns the policy.
    pub fn build(self) -> Result<Policy, PolicyError> {
        let p = self.policy;
        if p.idle_timeout < Duration::from_secs(1) {
            return Err(PolicyError::IdleTooShort);
        }
        if p.idle_timeout > p.absolute_lifetime {
            return Err(PolicyError::IdleExceedsAbsolute {
                idle: p.idle_timeout,
                absolute: p.absolute_lifetime,
            });
        }
        if p.absolute_lifetime > MAX_ABSOLUTE_LIFETIME && !self.allow_long_lifetime {
            return Err(PolicyError::AbsoluteTooLong(p.absolute_lifetime));
        }
        if p.renewal_throttle >= p.idle_timeout {
            return Err(PolicyError::ThrottleNotBelowIdle {
                throttle: p.renewal_throttle,
                idle: p.idle_timeout,
            });
        }
        if p.rotation_grace > MAX_ROTATION_GRACE {
            return Err(PolicyError::GraceTooLong(p.rotation_grace));
        }
        let (shortest, longest) = DEVICE_BOUND_LIFETIME_RANGE;
        if p.device_bound_lifetime < shortest || p.device_bound_lifetime > longest {
            return Err(PolicyError::DeviceBoundLifetime(p.device_bound_lifetime));
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_owasp() {
        let p = Policy::default();
        assert_eq!(p.idle_timeout(), Duration::from_secs(1800));
        assert_eq!(p.absolute_lifetime(), Duration::from_secs(8 * 3600));
        assert_eq!(p.renewal_throttle(), Duration::from_secs(60));
        assert_eq!(p.rotation_grace(), Duration::from_secs(5));
        assert_eq!(p.max_sessions_per_subject(), None);
        assert_eq!(p.device_bound_lifetime(), Duration::from_secs(600));
        assert_eq!(Policy::builder().build(), Ok(p));
    }

    #[test]
    fn unsafe_values_are_refused() {
        let s = Duration::from_secs;
        assert_eq!(
            Policy::builder().idle_timeout(Duration::ZERO).build(),
            Err(PolicyError::IdleTooShort)
        );
        assert!(matches!(
            Policy::builder().idle_timeout(s(10 * 3600)).build(),
            Err(PolicyError::IdleExceedsAbsolute { .. })
        ));
        assert!(matches!(
            Policy::builder().absolute_lifetime(s(365 * 86400)).build(),
            Err(PolicyError::AbsoluteTooLong(_))
        ));
        assert!(Policy::builder()
            .absolute_lifetime(s(365 * 86400))
            .allow_long_lifetime()
            .build()
            .is_ok());
        assert!(matches!(
            Policy::builder().renewal_throttle(s(1800)).build(),
            Err(PolicyError::ThrottleNotBelowIdle { .. })
        ));
        assert!(matches!(
            Policy::builder().rotation_grace(s(61)).build(),
            Err(PolicyError::GraceTooLong(_))
        ));
        for weak in [s(59), s(3601)] {
            assert_eq!(
                Policy::builder().device_bound_lifetime(weak).build(),
                Err(PolicyError::DeviceBoundLifetime(weak))
            );
        }
        assert!(Policy::builder()
            .device_bound_lifetime(s(60))
            .build()
            .is_ok());
    }
}
