// No include guard: included in pairs with separate_roundings_end.hpp around code that must round
// like numpy and Optuna, one operation at a time. A fused multiply-add (what -march=native lets
// GCC and Clang contract `a + b * c` into) would change the last bit of the values computed; where
// numpy's kernels fuse, the code calls std::fma itself.
#if defined(__clang__)
#pragma float_control(push)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
