#include <napi.h>
double tads_probe();
static Napi::Value Probe(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), tads_probe());
}
static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe));
  return exports;
}
NODE_API_MODULE(tads, Init)
