//! The encoders and the projector, built from matrix products only (candle's CPU
//! convolution backward is slow), with a seeded initialisation (candle's CPU
//! generator cannot be seeded):
//!
//! - textures: overlapping 6x6 patches (stride 3) through a two-layer per-patch
//!   MLP, 3x3 groups of those (stride 2) through a linear layer, global average
//!   pooling and batch norm: the 128-d representation;
//! - digits: a two-layer MLP on the 64 pixels and batch norm: the 128-d
//!   representation.
//!
//! The projector (linear, batch norm, ReLU, linear) maps the representation to the
//! `DIM`-d embedding the regularizer sees.

use crate::DIM;
use crate::data::Kind;
use crate::views::CROP;
use candle_core::{Device, Module, ModuleT, Result, Tensor};
use candle_nn::{BatchNorm, Linear, VarBuilder, VarMap, batch_norm, linear};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use rand_distr::StandardNormal;

/// Width of the representation.
const REPR: usize = 128;
/// Texture patches: side, stride, and the patch grid's side (7).
const PATCH: usize = 6;
const PATCH_STRIDE: usize = 3;
const GRID: usize = (CROP - PATCH) / PATCH_STRIDE + 1;
/// Groups of 3x3 patches, stride 2: a 3x3 grid.
const GROUP: usize = 3;
const GROUP_STRIDE: usize = 2;
const GROUPS: usize = (GRID - GROUP) / GROUP_STRIDE + 1;
/// Channels per texture patch.
const CH: usize = 32;
/// Hidden width of the digits' MLP.
const HIDDEN: usize = 256;

/// The texture encoder's layers.
struct Patches {
    patch_index: Tensor,
    group_index: Tensor,
    patch: [Linear; 2],
    group: Linear,
}

/// The digits encoder's layers.
struct Pixels {
    layers: [Linear; 2],
}

enum Trunk {
    Textures(Patches),
    Digits(Pixels),
}

/// Encoder and projector.
pub struct Net {
    trunk: Trunk,
    repr_norm: BatchNorm,
    proj: [Linear; 2],
    proj_norm: BatchNorm,
}

/// Flat indices of the `side x side` windows of a `grid x grid` array.
fn windows(grid: usize, side: usize, stride: usize) -> Result<Tensor> {
    let out = (grid - side) / stride + 1;
    let mut index = Vec::with_capacity(out * out * side * side);
    for oy in 0..out {
        for ox in 0..out {
            for ky in 0..side {
                for kx in 0..side {
                    index.push(((stride * oy + ky) * grid + stride * ox + kx) as u32);
                }
            }
        }
    }
    Tensor::new(index, &Device::Cpu)
}

impl Net {
    /// The layers for data set `kind`, registered in `vb`.
    pub fn new(kind: Kind, vb: VarBuilder) -> Result<Net> {
        let trunk = match kind {
            Kind::Textures => Trunk::Textures(Patches {
                patch_index: windows(CROP, PATCH, PATCH_STRIDE)?,
                group_index: windows(GRID, GROUP, GROUP_STRIDE)?,
                patch: [
                    linear(PATCH * PATCH, CH, vb.pp("patch1"))?,
                    linear(CH, CH, vb.pp("patch2"))?,
                ],
                group: linear(GROUP * GROUP * CH, REPR, vb.pp("group"))?,
            }),
            Kind::Digits => Trunk::Digits(Pixels {
                layers: [
                    linear(kind.view_len(), HIDDEN, vb.pp("mlp1"))?,
                    linear(HIDDEN, REPR, vb.pp("mlp2"))?,
                ],
            }),
        };
        Ok(Net {
            trunk,
            repr_norm: batch_norm(REPR, 1e-5, vb.pp("repr_norm"))?,
            proj: [
                linear(REPR, 2 * REPR, vb.pp("proj1"))?,
                linear(2 * REPR, DIM, vb.pp("proj2"))?,
            ],
            proj_norm: batch_norm(2 * REPR, 1e-5, vb.pp("proj_norm"))?,
        })
    }

    /// `(representation, raw projector output)` of a batch of flat views
    /// (`train`: batch statistics in the batch norms).
    pub fn forward(&self, views: &Tensor, train: bool) -> Result<(Tensor, Tensor)> {
        let pooled = match &self.trunk {
            Trunk::Textures(t) => t.forward(views)?,
            Trunk::Digits(p) => p.layers[1].forward(&p.layers[0].forward(views)?.relu()?)?,
        };
        let repr = self.repr_norm.forward_t(&pooled, train)?;
        let hidden = self.proj[0].forward(&repr)?;
        let hidden = self.proj_norm.forward_t(&hidden, train)?.relu()?;
        Ok((repr, self.proj[1].forward(&hidden)?))
    }
}

impl Patches {
    /// The pooled (pre-norm) representation of texture views.
    fn forward(&self, views: &Tensor) -> Result<Tensor> {
        let n = views.dim(0)?;
        let patches = views
            .index_select(&self.patch_index, 1)?
            .reshape((n * GRID * GRID, PATCH * PATCH))?;
        let h = self.patch[0].forward(&patches)?.relu()?;
        let h = self.patch[1]
            .forward(&h)?
            .relu()?
            .reshape((n, GRID * GRID, CH))?;
        let groups = h
            .index_select(&self.group_index, 1)?
            .reshape((n * GROUPS * GROUPS, GROUP * GROUP * CH))?;
        let g = self.group.forward(&groups)?.relu()?;
        g.reshape((n, GROUPS * GROUPS, REPR))?.mean(1)
    }
}

/// Rows scaled to unit length.
pub fn normalize(z: &Tensor) -> Result<Tensor> {
    z.broadcast_div(&(z.sqr()?.sum_keepdim(1)? + 1e-12)?.sqrt()?)
}

/// Re-initialises the linear layers from `seed`, in name order: weights Kaiming
/// normal (fan in), biases zero. Batch-norm parameters keep their constant
/// initialisation.
pub fn seed_init(varmap: &VarMap, seed: u64) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let data = varmap
        .data()
        .lock()
        .map_err(|_| candle_core::Error::Msg("the variable map's lock is poisoned".into()))?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let dims = var.dims().to_vec();
        if name.ends_with("weight") && dims.len() == 2 {
            let std = (2.0 / dims[1] as f32).sqrt();
            let values = (0..var.elem_count()).map(|_| std * rng.sample::<f32, _>(StandardNormal));
            var.set(&Tensor::from_iter(values, var.device())?.reshape(dims)?)?;
        } else if name.ends_with("bias") && !name.contains("norm") {
            var.set(&var.zeros_like()?)?;
        }
    }
    Ok(())
}
