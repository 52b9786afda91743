//! The regularizers compared: none; the sliced SIGReg and SUSReg and their
//! integrated twins; MMD, KSD and KDE-KL with the heat kernel at the paper's `t`;
//! MMD and KSD with bandlimited kernels.

use crate::DIM;
use unisphere::{
    KdeKl, Kernel, Ksd, Mmd, Regularizer, Sigreg, SigregIntegrated, Susreg, SusregIntegrated,
};

/// One regularizer of the study.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    None,
    Sigreg256,
    Sigreg1024,
    SigregTwin,
    Susreg1024,
    SusregTwin,
    MmdHeat,
    KsdHeat,
    KlHeat,
    MmdBand2,
    KsdBand2,
    MmdBand6,
    KsdBand6,
}

/// How a method's loss is scaled, which sets where its lambda lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// The sliced statistics and their twins: LeJEPA's `N x` Epps–Pulley.
    Sliced,
    /// The paper scale: total collapse gives 1.
    Paper,
}

impl Method {
    pub const ALL: [Method; 13] = [
        Method::None,
        Method::Sigreg256,
        Method::Sigreg1024,
        Method::SigregTwin,
        Method::Susreg1024,
        Method::SusregTwin,
        Method::MmdHeat,
        Method::KsdHeat,
        Method::KlHeat,
        Method::MmdBand2,
        Method::KsdBand2,
        Method::MmdBand6,
        Method::KsdBand6,
    ];

    /// The name used in the CSV and on the results page.
    pub fn name(self) -> &'static str {
        match self {
            Method::None => "none",
            Method::Sigreg256 => "SIGReg M=256",
            Method::Sigreg1024 => "SIGReg M=1024",
            Method::SigregTwin => "SIGReg integrated",
            Method::Susreg1024 => "SUSReg M=1024",
            Method::SusregTwin => "SUSReg integrated",
            Method::MmdHeat => "MMD heat",
            Method::KsdHeat => "KSD heat",
            Method::KlHeat => "KDE-KL heat",
            Method::MmdBand2 => "MMD bandlimited L=2",
            Method::KsdBand2 => "KSD bandlimited L=2",
            Method::MmdBand6 => "MMD bandlimited L=6",
            Method::KsdBand6 => "KSD bandlimited L=6",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == s)
    }

    pub fn family(self) -> Family {
        match self {
            Method::None
            | Method::Sigreg256
            | Method::Sigreg1024
            | Method::SigregTwin
            | Method::Susreg1024
            | Method::SusregTwin => Family::Sliced,
            _ => Family::Paper,
        }
    }

    /// The weight used by `--quick` (no lambda search there).
    pub fn quick_lambda(self) -> f64 {
        match (self, self.family()) {
            (Method::None, _) => 0.0,
            (_, Family::Sliced) => 0.05,
            (_, Family::Paper) => 1.0,
        }
    }

    /// The regularizer (`None` for the unregularized run); sliced ones seeded.
    pub fn regularizer(self, seed: u64) -> unisphere::Result<Option<Box<dyn Regularizer<f32>>>> {
        let d = DIM as f64;
        Ok(Some(match self {
            Method::None => return Ok(None),
            Method::Sigreg256 => Box::new(Sigreg::new(256, seed)?),
            Method::Sigreg1024 => Box::new(Sigreg::new(1024, seed)?),
            Method::SigregTwin => Box::new(SigregIntegrated::new()),
            Method::Susreg1024 => Box::new(Susreg::new(1024, seed)?),
            Method::SusregTwin => Box::new(SusregIntegrated::new()),
            Method::MmdHeat => Box::new(Mmd::new(Kernel::heat(DIM, 5.0 / d)?)),
            Method::KsdHeat => Box::new(Ksd::new(Kernel::heat(DIM, 5.0 / d)?)),
            Method::KlHeat => Box::new(KdeKl::new(Kernel::heat(DIM, 2.0 / d)?)?),
            Method::MmdBand2 => Box::new(Mmd::new(Kernel::bandlimited(DIM, 2)?)),
            Method::KsdBand2 => Box::new(Ksd::new(Kernel::bandlimited(DIM, 2)?)),
            Method::MmdBand6 => Box::new(Mmd::new(Kernel::bandlimited(DIM, 6)?)),
            Method::KsdBand6 => Box::new(Ksd::new(Kernel::bandlimited(DIM, 6)?)),
        }))
    }
}
