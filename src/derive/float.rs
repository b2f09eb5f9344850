//! STUB (replaced by helper)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Float {
    F32,
    F16,
    Bf16,
}
impl Float {
    pub fn from_name(d: &str) -> Option<Float> {
        match d {
            "F32" => Some(Float::F32),
            "F16" => Some(Float::F16),
            "BF16" => Some(Float::Bf16),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Float::F32 => "F32",
            Float::F16 => "F16",
            Float::Bf16 => "BF16",
        }
    }
    pub fn size(self) -> usize {
        match self {
            Float::F32 => 4,
            _ => 2,
        }
    }
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NanRule {
    #[default]
    Keep,
    Canonical,
}
pub fn widen(_from: Float, _src: &[u8], _out: &mut [f32]) {
    todo!()
}
pub fn cast(_from: Float, _to: Float, _nan: NanRule, _src: &[u8], _out: &mut [u8]) {
    todo!()
}
pub fn f32_to_f16(_x: f32, _nan: NanRule) -> u16 {
    todo!()
}
pub fn f32_to_bf16(_x: f32, _nan: NanRule) -> u16 {
    todo!()
}
