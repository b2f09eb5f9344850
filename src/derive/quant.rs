//! STUB
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quant {
    Q8_0,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Mxfp4,
    Tq1_0,
    Tq2_0,
}
impl Quant {
    pub fn from_name(n: &str) -> Option<Quant> {
        Some(match n {
            "Q8_0" => Quant::Q8_0,
            "Q4_0" => Quant::Q4_0,
            "Q4_1" => Quant::Q4_1,
            "Q5_0" => Quant::Q5_0,
            "Q5_1" => Quant::Q5_1,
            "MXFP4" => Quant::Mxfp4,
            "TQ1_0" => Quant::Tq1_0,
            "TQ2_0" => Quant::Tq2_0,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Quant::Q8_0 => "Q8_0",
            Quant::Q4_0 => "Q4_0",
            Quant::Q4_1 => "Q4_1",
            Quant::Q5_0 => "Q5_0",
            Quant::Q5_1 => "Q5_1",
            Quant::Mxfp4 => "MXFP4",
            Quant::Tq1_0 => "TQ1_0",
            Quant::Tq2_0 => "TQ2_0",
        }
    }
}
pub fn quantize(_q: Quant, _src: &[f32], _out: &mut [u8]) {
    todo!()
}
