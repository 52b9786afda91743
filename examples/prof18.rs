use unisphere::{
    KdeKl, Kernel, Ksd, Mmd, Regularizer, Sigreg, SigregIntegrated, SusregIntegrated,
    ndarray::Array2,
};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args[1].parse().unwrap();
    let d: usize = args[2].parse().unwrap();
    let reps: usize = args[3].parse().unwrap();
    let which = args.get(4).map(String::as_str).unwrap_or("mmd");
    let z = Array2::from_shape_fn((n, d), |(i, j)| {
        (((i * 7919 + j * 104729) % 1009) as f32 / 1009.0) - 0.5
    });
    let df = d as f64;
    let mut reg: Box<dyn Regularizer<f32>> = match which {
        "mmd" => Box::new(Mmd::new(Kernel::heat(d, 5.0 / df).unwrap())),
        "ksd" => Box::new(Ksd::new(Kernel::heat(d, 5.0 / df).unwrap())),
        "kl" => Box::new(KdeKl::new(Kernel::heat(d, 2.0 / df).unwrap()).unwrap()),
        "sigtwin" => Box::new(SigregIntegrated::new()),
        "sustwin" => Box::new(SusregIntegrated::new()),
        _ => Box::new(Sigreg::new(256, 0).unwrap()),
    };
    let mut g = Array2::<f32>::zeros((n, d));
    let mut s = 0.0;
    for _ in 0..reps {
        s += reg.loss_and_grad_into(z.view(), g.view_mut(), 1.0).unwrap();
    }
    println!("{s}");
}
