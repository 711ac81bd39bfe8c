//! A CI node of S stacks: how long its stacks take to come up, and how much
//! slower they run when the node has fewer cores than stacks.
//!
//! Stacks on one machine start together and compete for its cores:
//! stack-run's start-up per stack, measured by `bench/startup` on 2 cores,
//! was 3.9 s for 1 stack, 4.2 s for 2, 8.5 s for 4 and 24.9 s for 8.
//! [`Startup`] keeps such figures by stacks per core, so they carry over to
//! a node of any size: 8 stacks on 4 cores start as 4 did on 2. Between two
//! measured points it draws a straight line; past the last, it goes on along
//! the last segment (never below the last point); below the first, it stays
//! at the first.

/// Seconds for each stack to come up, by how many stacks share a core.
#[derive(Debug, Clone, PartialEq)]
pub struct Startup {
    /// (stacks per core, seconds), by stacks per core, no two alike.
    points: Vec<(f64, f64)>,
}

impl Startup {
    /// stack-run's start-up per stack by stacks started at once, on
    /// [`Startup::MEASURED_CORES`] cores (`bench/startup/README.md`).
    pub const MEASURED: [(u32, f64); 4] = [(1, 3.9), (2, 4.2), (4, 8.5), (8, 24.9)];
    pub const MEASURED_CORES: u32 = 2;

    /// From seconds per stack with that many stacks started at once, on a
    /// machine of `cores` cores.
    pub fn new(measured: &[(u32, f64)], cores: u32) -> Result<Startup, String> {
        if cores == 0 {
            return Err("a machine has at least one core".into());
        }
        let mut points = Vec::with_capacity(measured.len());
        for &(stacks, seconds) in measured {
            if stacks == 0 || !seconds.is_finite() || seconds < 0.0 {
                return Err(format!(
                    "{stacks}:{seconds}: needs a stack or more and seconds of 0 or more"
                ));
            }
            points.push((f64::from(stacks) / f64::from(cores), seconds));
        }
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        if points.is_empty() {
            return Err("no start-up measured".into());
        }
        if points.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return Err("a stack count measured twice".into());
        }
        Ok(Startup { points })
    }

    /// Seconds for each of `stacks` stacks, started together on `cores` cores.
    pub fn seconds(&self, stacks: u32, cores: u32) -> f64 {
        let load = f64::from(stacks) / f64::from(cores.max(1));
        let points = &self.points;
        let (first, last) = (points[0], points[points.len() - 1]);
        if points.len() == 1 || load <= first.0 {
            return first.1;
        }
        // The segment holding `load`, or the last one past the end.
        let after = points
            .iter()
            .position(|&(at, _)| at >= load)
            .unwrap_or(points.len() - 1);
        let ((x0, y0), (x1, y1)) = (points[after - 1], points[after]);
        let seconds = y0 + (y1 - y0) * (load - x0) / (x1 - x0);
        if load > last.0 {
            seconds.max(last.1)
        } else {
            seconds
        }
    }
}

/// How many times longer each test and batch start takes when `stacks`
/// stacks share `cores` cores: 1 while every stack has a core of its own.
pub fn slowdown(stacks: u32, cores: u32) -> f64 {
    (f64::from(stacks) / f64::from(cores.max(1))).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured() -> Startup {
        Startup::new(&Startup::MEASURED, Startup::MEASURED_CORES).unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn the_measured_points_come_back_on_the_measured_machine() {
        let startup = measured();
        for (stacks, seconds) in Startup::MEASURED {
            assert!(close(startup.seconds(stacks, 2), seconds), "{stacks}");
        }
    }

    #[test]
    fn a_core_per_stack_starts_as_two_stacks_on_two_cores_at_any_size() {
        let startup = measured();
        for stacks in [1, 2, 4, 8, 16, 32, 64] {
            assert!(close(startup.seconds(stacks, stacks), 4.2), "{stacks}");
        }
    }

    #[test]
    fn between_points_a_line_past_the_last_its_slope() {
        let startup = measured();
        // 8 stacks on 4 cores: 4 on 2.
        assert!(close(startup.seconds(8, 4), 8.5));
        // 3 stacks on 2 cores: halfway from 4.2 to 8.5.
        assert!(close(startup.seconds(3, 2), 6.35));
        // 16 stacks on 2 cores: 24.9 s plus 4 more stacks per core at 8.2 s each.
        assert!(close(startup.seconds(16, 2), 24.9 + 4.0 * 8.2));
        // Half a stack per core or less: the first point.
        assert!(close(startup.seconds(1, 8), 3.9));
        // A falling last segment stops at its last point.
        let falling = Startup::new(&[(1, 5.0), (2, 4.0)], 1).unwrap();
        assert_eq!(falling.seconds(4, 1), 4.0);
    }

    #[test]
    fn one_point_is_a_constant_and_bad_points_are_refused() {
        let constant = Startup::new(&[(1, 10.0)], 1).unwrap();
        assert_eq!(constant.seconds(64, 1), 10.0);
        assert!(Startup::new(&[], 2).is_err());
        assert!(Startup::new(&[(1, 3.0)], 0).is_err());
        assert!(Startup::new(&[(0, 3.0)], 2).is_err());
        assert!(Startup::new(&[(2, 3.0), (2, 4.0)], 2).is_err());
        assert!(Startup::new(&[(2, f64::NAN)], 2).is_err());
    }

    #[test]
    fn stacks_beyond_the_cores_slow_down_in_proportion() {
        assert_eq!(slowdown(4, 8), 1.0);
        assert_eq!(slowdown(8, 8), 1.0);
        assert_eq!(slowdown(16, 4), 4.0);
    }
}
