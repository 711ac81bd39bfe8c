//! What every stack of a run is made from and shares, and how each is made.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::engine::proc::{Children, Log};
use crate::engine::signals::Stop;
use crate::engine::subnets::{self, Taken};
use crate::model::gate::Built;
use crate::model::layout::Layout;
use crate::model::names::Names;
use crate::model::network::Subnet;
use crate::model::report::Report;
use crate::model::seed_source::SeedSource;
use crate::stack::blueprint::Blueprint;
use crate::stack::limits::Limits;
use crate::stack::ready;
use crate::stack::{Place, Stack};

/// What every stack of a run is made from, and what its stacks share.
pub struct Stacks {
    pub blueprint: Blueprint,
    pub names: Names,
    pub layout: Layout,
    /// How long a stack's sidecars may take to get ready.
    pub ready_timeout: Duration,
    /// Where every stack's networks get their subnets.
    pub subnet_pool: Subnet,
    pub children: Arc<Children>,
    pub stop: Arc<Stop>,
    pub report: Arc<dyn Report>,
    pub built: Arc<Built>,
    /// With --seed: what each sidecar starts from, set before any shard's stack.
    pub seeds: OnceLock<Seeds>,
    /// The looks at the run's containers that stacks waiting for their sidecars share.
    pub readiness: ready::Poll,
    /// The subnets in use, so that the run's stacks never try the same one.
    pub subnets: Taken,
}

/// The seed each sidecar starts from.
pub struct Seeds {
    /// Sidecar → image.
    pub images: BTreeMap<String, String>,
    pub sources: Vec<SeedSource>,
}

impl Stacks {
    /// A stack as `place` says, its life written to `log`: its networks
    /// created and its file derived, nothing started yet. On failure what
    /// was created is removed.
    pub fn create(&self, place: Place, log: Log) -> Result<Stack<'_>, String> {
        let derived = log.timed("networks created", || self.derive(&place));
        let stack = Stack {
            stacks: self,
            place,
            log,
            resident: None,
        };
        match derived {
            Ok(()) => Ok(stack),
            Err(message) => {
                let _ = stack.sweep();
                Err(message)
            }
        }
    }

    /// Create `place`'s networks (see `subnets`) and write its derived file.
    fn derive(&self, place: &Place) -> Result<(), String> {
        let blueprint = &self.blueprint;
        let project = place.project.as_str();
        let placed = subnets::create(
            &self.children,
            &self.subnets,
            self.subnet_pool,
            project,
            &blueprint.networks,
            &place.labels,
        )
        .map_err(|err| format!("{err:#}"))?;
        // Seeded sidecars start from their seed's image.
        let mut images = blueprint.images.clone();
        let seeds = self.seeds.get().into_iter();
        images.extend(seeds.flat_map(|seeds| seeds.images.clone()));
        let derived = blueprint.model.shard_file(
            &place.labels,
            &images,
            &blueprint.service,
            place.out.as_deref(),
            (project, &placed),
        );
        let file = &place.file;
        std::fs::write(file, derived.to_string())
            .map_err(|err| format!("cannot write {}: {err}", file.display()))
    }

    /// Say in `log` which seed each sidecar starts from; nothing unseeded.
    pub fn note_seeds(&self, log: &Log) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let sources = self.seeds.get().map_or(&[][..], |seeds| &seeds.sources);
        for source in sources {
            log.line(&source.describe(now));
        }
    }

    /// Wait for the run's images; why not, if they did not come.
    pub(super) fn wait_for_build(&self, limits: &Limits) -> Result<(), String> {
        match self.built.wait(|| limits.reached()) {
            None => Err("stopped while the image was building".into()),
            Some(Err(failure)) => Err(format!(
                "the image could not be built: {:#}",
                failure.error()
            )),
            Some(Ok(())) => Ok(()),
        }
    }

    /// What the readiness wait looks with.
    pub(super) fn looks(&self) -> (&ready::Poll, &Arc<Children>, &str) {
        (&self.readiness, &self.children, &self.names.run_id)
    }
}
