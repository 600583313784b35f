// The addon's one export list. Every function re-checks its arguments cheaply, converts core
// errors into JavaScript ones, and leaves the maths to native/core.
//
//   fit(data, rows, cols, options) -> model fields
//   fitAsync(data, rows, cols, options) -> Promise<model fields>   (an AsyncWorker; the input is
//       copied on the calling thread, so the caller may reuse, detach or free it at once)
//   robustStats(data, rows, cols) -> { median, mad, meanAbsDev }
//   new Accumulator(d): push(data, rows, cols), rows(), finish(median, mad, meanAbsDev, options)
//   new Scorer(model): score(data, rows, fused, spe, t2, zMax, topMetric, anomalous, contributions)
//   maxFeatures: the most metrics per row (native/core/size_limits.h)
//   _fUpperQuantile, _chi2UpperQuantile, _normalUpperQuantile, _incBeta, _incGamma (tests only)
#include <napi.h>

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "convert.h"
#include "error.h"
#include "moments.h"
#include "pca.h"
#include "robust.h"
#include "scoring.h"
#include "size_limits.h"
#include "special.h"

namespace tads::binding {
namespace {

// A failed allocation, as a PcaError OUT_OF_MEMORY.
tads::Error out_of_memory() {
  return tads::Error(ErrorKind::kPca, "OUT_OF_MEMORY",
                     "out of memory: the native core could not allocate what this call needs");
}

// Runs fn, turning core and standard exceptions into JavaScript errors.
template <typename Fn>
Napi::Value guarded(Napi::Env env, Fn&& fn) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const tads::Error& e) {
    throw to_js_error(env, e);
  } catch (const std::bad_alloc&) {
    throw to_js_error(env, out_of_memory());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("native error: ") + e.what());
  }
}

// Reads the fully defaulted options object built by the TypeScript layer.
FitOptions fit_options(const Napi::Value& value) {
  if (!value.IsObject()) throw_type("options must be an object");
  const Napi::Object o = value.As<Napi::Object>();
  FitOptions out;
  out.variance = finite_number(o.Get("variance"), "options.variance");
  if (!(out.variance > 0.0 && out.variance <= 1.0)) {
    throw_range("options.variance must be in (0, 1]");
  }
  out.n_components =
      static_cast<int>(integer_in(o.Get("nComponents"), "options.nComponents", 0, kMaxFeatures));
  out.alpha = finite_number(o.Get("alpha"), "options.alpha");
  if (!(out.alpha > 0.0 && out.alpha < 0.5)) throw_range("options.alpha must be in (0, 0.5)");
  out.z_limit = finite_number(o.Get("zLimit"), "options.zLimit");
  if (!(out.z_limit > 0.0)) throw_range("options.zLimit must be > 0");
  const Napi::Value rule = o.Get("speRule");
  if (!rule.IsString()) throw_type("options.speRule must be a string");
  const std::string r = rule.As<Napi::String>().Utf8Value();
  if (r == "jackson_mudholkar") {
    out.spe_rule = SpeRule::kJacksonMudholkar;
  } else if (r == "empirical") {
    out.spe_rule = SpeRule::kEmpirical;
    out.spe_quantile = finite_number(o.Get("speQuantile"), "options.speQuantile");
    if (!(out.spe_quantile > 0.0 && out.spe_quantile < 1.0)) {
      throw_range("options.speQuantile must be in (0, 1)");
    }
  } else {
    throw_range("options.speRule must be 'jackson_mudholkar' or 'empirical'");
  }
  return out;
}

// The fitted model as a plain object of numbers and Float64Arrays.
Napi::Object model_to_js(Napi::Env env, const PcaModelData& m) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("nFeatures", m.d);
  o.Set("nComponents", m.k);
  o.Set("nSamples", static_cast<double>(m.n));
  o.Set("mean", to_float64(env, m.mean));
  o.Set("scale", to_float64(env, m.scale));
  o.Set("components", to_float64(env, m.components.data(), static_cast<size_t>(m.k) * m.d));
  o.Set("eigenvalues", to_float64(env, m.eigenvalues));
  o.Set("explainedVarianceRatio", to_float64(env, m.explained_variance));
  o.Set("median", to_float64(env, m.median));
  o.Set("mad", to_float64(env, m.mad));
  o.Set("zScale", to_float64(env, m.z_scale));
  o.Set("alpha", m.alpha);
  o.Set("speLimit", m.spe_limit);
  o.Set("t2Limit", m.t2_limit);
  o.Set("zLimit", m.z_limit);
  o.Set("fQuantile", m.f_quantile);
  Napi::Object spe = Napi::Object::New(env);
  spe.Set("method", spe_method_name(m.spe.method));
  spe.Set("theta1", m.spe.theta1);
  spe.Set("theta2", m.spe.theta2);
  spe.Set("theta3", m.spe.theta3);
  spe.Set("h0", m.spe.h0);
  spe.Set("zAlpha", m.spe.z_alpha);
  spe.Set("g", m.spe.g);
  spe.Set("h", m.spe.h);
  spe.Set("chi2Quantile", m.spe.chi2);
  spe.Set("quantile", m.spe.quantile);
  o.Set("spe", spe);
  return o;
}

Napi::Value Fit(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    // The options first: their getters may run JavaScript, which must not see the rows viewed.
    const FitOptions options = fit_options(info[3]);
    const MatrixArg x = matrix_arg(info, 0, "data");
    return model_to_js(info.Env(), fit_matrix(x.data, x.rows, x.cols, options));
  });
}

// Fits off the event loop. The input is copied here, on the calling thread, before the worker is
// queued: JavaScript may write to, detach or collect its array while Execute() runs, so Execute()
// reads only the copy and never touches JavaScript. (A reference alone would not do: a transfer
// detaches the buffer and frees its memory whatever references are held.)
class FitWorker : public Napi::AsyncWorker {
 public:
  FitWorker(Napi::Env env, std::vector<double> input, int64_t rows, int cols, FitOptions options)
      : Napi::AsyncWorker(env, "tads.fitAsync"),
        deferred_(Napi::Promise::Deferred::New(env)),
        input_(std::move(input)),
        rows_(rows),
        cols_(cols),
        options_(options) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      result_ = fit_matrix(input_.data(), rows_, cols_, options_);
    } catch (const tads::Error& e) {
      error_.emplace(e);
    } catch (const std::bad_alloc&) {
      error_.emplace(out_of_memory());
    } catch (const std::exception& e) {
      error_.emplace(ErrorKind::kPca, "NATIVE", std::string("native error: ") + e.what());
    }
    // The copy is no longer needed; free it now rather than when the promise settles.
    std::vector<double>().swap(input_);
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (error_) {
      deferred_.Reject(to_js_error(env, *error_).Value());
    } else {
      deferred_.Resolve(model_to_js(env, result_));
    }
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<double> input_;
  int64_t rows_;
  int cols_;
  FitOptions options_;
  PcaModelData result_;
  std::optional<tads::Error> error_;
};

Napi::Value FitAsync(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    // The options first: their getters may run JavaScript, which must not see the rows viewed.
    const FitOptions options = fit_options(info[3]);
    const MatrixArg x = matrix_arg(info, 0, "data");
    const uint64_t n = static_cast<uint64_t>(x.rows) * static_cast<uint64_t>(x.cols);
    check_memory(n, "a copy of the training rows");
    std::vector<double> input(x.data, x.data + n);
    auto* worker = new FitWorker(info.Env(), std::move(input), x.rows, x.cols, options);
    const Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  });
}

Napi::Value RobustStatsFn(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const MatrixArg x = matrix_arg(info, 0, "data");
    if (x.rows < 1) throw_range("robust statistics need at least 1 row; got 0");
    const int64_t bad = first_non_finite_row(x.data, x.rows, x.cols);
    if (bad >= 0) {
      throw_range("values must be finite; row " + std::to_string(bad) +
                  " holds a non-finite value");
    }
    const RobustStats s = robust_stats(x.data, x.rows, x.cols);
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("median", to_float64(info.Env(), s.median));
    o.Set("mad", to_float64(info.Env(), s.mad));
    o.Set("meanAbsDev", to_float64(info.Env(), s.mean_abs_dev_from_median));
    return o;
  });
}

// Streaming moments held across calls.
class Accumulator : public Napi::ObjectWrap<Accumulator> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "Accumulator",
        {InstanceMethod<&Accumulator::Push>("push"), InstanceMethod<&Accumulator::Rows>("rows"),
         InstanceMethod<&Accumulator::Finish>("finish")});
  }

  explicit Accumulator(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Accumulator>(info) {
    guarded(info.Env(), [&]() -> Napi::Value {
      const int d = static_cast<int>(integer_in(info[0], "nFeatures", 1, kMaxFeatures));
      acc_ = std::make_unique<MomentAccumulator>(d);
      return info.Env().Undefined();
    });
  }

 private:
  Napi::Value Push(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const MatrixArg x = matrix_arg(info, 0, "chunk.data");
      if (x.cols != acc_->cols()) {
        throw_range("chunk.cols must equal nFeatures = " + std::to_string(acc_->cols()) + "; got " +
                    std::to_string(x.cols));
      }
      acc_->push(x.data, x.rows);
      return info.Env().Undefined();
    });
  }

  Napi::Value Rows(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(acc_->rows()));
  }

  Napi::Value Finish(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const int d = acc_->cols();
      RobustStats robust;
      const char* names[3] = {"robust.median", "robust.mad", "robust.meanAbsDevFromMedian"};
      Eigen::VectorXd* fields[3] = {&robust.median, &robust.mad, &robust.mean_abs_dev_from_median};
      for (int f = 0; f < 3; ++f) {
        const View<double> v = typed_array<double>(info[f], names[f]);
        if (v.length != static_cast<size_t>(d)) {
          throw_range(std::string(names[f]) + ".length must equal nFeatures = " +
                      std::to_string(d) + "; got " + std::to_string(v.length));
        }
        for (size_t j = 0; j < v.length; ++j) {
          if (!std::isfinite(v.data[j]) || (f > 0 && v.data[j] < 0.0)) {
            throw_range(std::string(names[f]) + "[" + std::to_string(j) + "] must be finite" +
                        (f > 0 ? " and >= 0" : ""));
          }
        }
        *fields[f] = Eigen::Map<const Eigen::VectorXd>(v.data, d);
      }
      const FitOptions options = fit_options(info[3]);
      return model_to_js(info.Env(), fit_from_moments(acc_->moments(), robust, options));
    });
  }

  std::unique_ptr<MomentAccumulator> acc_;
};

// A model prepared once for scoring: constants converted at construction, so a call costs only
// the argument checks and the arithmetic.
class Scorer : public Napi::ObjectWrap<Scorer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Scorer", {InstanceMethod<&Scorer::Score>("score")});
  }

  explicit Scorer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Scorer>(info) {
    guarded(info.Env(), [&]() -> Napi::Value {
      if (!info[0].IsObject()) throw_type("model must be an object");
      const Napi::Object o = info[0].As<Napi::Object>();
      // Every property is read first: a getter runs JavaScript, which could detach an array
      // whose memory had already been taken.
      const Napi::Value n_features = o.Get("nFeatures"), n_components = o.Get("nComponents"),
                        mean_v = o.Get("mean"), scale_v = o.Get("scale"),
                        components_v = o.Get("components"), eigenvalues_v = o.Get("eigenvalues"),
                        median_v = o.Get("median"), z_scale_v = o.Get("zScale"),
                        spe_limit_v = o.Get("speLimit"), z_limit_v = o.Get("zLimit");
      const int d = static_cast<int>(integer_in(n_features, "model.nFeatures", 1, kMaxFeatures));
      const int k = static_cast<int>(integer_in(n_components, "model.nComponents", 1, d));
      auto vec = [&](const Napi::Value& value, const char* name, size_t len) {
        const View<double> v = typed_array<double>(value, name);
        if (v.length != len) {
          throw_range(std::string(name) + ".length must be " + std::to_string(len) + "; got " +
                      std::to_string(v.length));
        }
        return v.data;
      };
      const double* mean = vec(mean_v, "model.mean", d);
      const double* scale = vec(scale_v, "model.scale", d);
      const double* comps = vec(components_v, "model.components", static_cast<size_t>(k) * d);
      const View<double> eig = typed_array<double>(eigenvalues_v, "model.eigenvalues");
      if (eig.length < static_cast<size_t>(k)) {
        throw_range("model.eigenvalues.length must be >= nComponents = " + std::to_string(k));
      }
      const double* median = vec(median_v, "model.median", d);
      const double* z_scale = vec(z_scale_v, "model.zScale", d);
      const double spe_limit = finite_number(spe_limit_v, "model.speLimit");
      const double z_limit = finite_number(z_limit_v, "model.zLimit");
      model_ =
          prepare_scoring(d, k, mean, scale, comps, eig.data, median, z_scale, spe_limit, z_limit);
      return info.Env().Undefined();
    });
  }

 private:
  Napi::Value Score(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const View<double> x = typed_array<double>(info[0], "data");
      const int64_t rows = integer_in(info[1], "rows", 0, kMaxRows);
      const size_t d = static_cast<size_t>(model_.d);
      check_length(x.length, rows, model_.d, "data", "rows * nFeatures");
      const size_t n = static_cast<size_t>(rows);
      auto out_view = [&](auto view, const char* name, size_t need) {
        if (view.length < need) {
          throw_range(std::string(name) + ".length must be >= " + std::to_string(need) + "; got " +
                      std::to_string(view.length));
        }
        return view.data;
      };
      ScoreOutputs out{};
      out.fused = out_view(typed_array<double>(info[2], "out.fused"), "out.fused", n);
      out.spe = out_view(typed_array<double>(info[3], "out.spe"), "out.spe", n);
      out.t2 = out_view(typed_array<double>(info[4], "out.t2"), "out.t2", n);
      out.z_max = out_view(typed_array<double>(info[5], "out.zMax"), "out.zMax", n);
      out.top_metric = out_view(typed_array<int32_t>(info[6], "out.topMetric"), "out.topMetric", n);
      out.anomalous = out_view(typed_array<uint8_t>(info[7], "out.anomalous"), "out.anomalous", n);
      out.contributions = nullptr;
      if (!info[8].IsNull() && !info[8].IsUndefined()) {
        out.contributions =
            out_view(typed_array<double>(info[8], "out.contributions"), "out.contributions", n * d);
      }
      const int64_t invalid = score_batch(model_, x.data, rows, out);
      return Napi::Number::New(info.Env(), static_cast<double>(invalid));
    });
  }

  ScoringModel model_;
};

Napi::Value FUpperQuantile(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    return Napi::Number::New(
        info.Env(), f_upper_quantile(finite_number(info[0], "alpha"), finite_number(info[1], "d1"),
                                     finite_number(info[2], "d2")));
  });
}

Napi::Value Chi2UpperQuantile(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    return Napi::Number::New(info.Env(), chi2_upper_quantile(finite_number(info[0], "alpha"),
                                                             finite_number(info[1], "h")));
  });
}

Napi::Value NormalUpperQuantile(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    return Napi::Number::New(info.Env(), normal_upper_quantile(finite_number(info[0], "alpha")));
  });
}

Napi::Value TailsToJs(Napi::Env env, Tails t) {
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, t.lower);
  a.Set(1u, t.upper);
  return a;
}

Napi::Value IncBeta(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const double x = finite_number(info[0], "x");
    const double a = finite_number(info[1], "a");
    const double b = finite_number(info[2], "b");
    if (!(x >= 0.0 && x <= 1.0) || !(a > 0.0) || !(b > 0.0)) {
      throw_range("need x in [0, 1], a > 0, b > 0");
    }
    return TailsToJs(info.Env(), inc_beta(x, 1.0 - x, a, b));
  });
}

Napi::Value IncGamma(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const double a = finite_number(info[0], "a");
    const double x = finite_number(info[1], "x");
    if (!(a > 0.0) || !(x >= 0.0)) throw_range("need a > 0, x >= 0");
    return TailsToJs(info.Env(), inc_gamma(a, x));
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("fit", Napi::Function::New(env, Fit, "fit"));
  exports.Set("fitAsync", Napi::Function::New(env, FitAsync, "fitAsync"));
  exports.Set("robustStats", Napi::Function::New(env, RobustStatsFn, "robustStats"));
  exports.Set("Accumulator", Accumulator::Define(env));
  exports.Set("Scorer", Scorer::Define(env));
  exports.Set("maxFeatures", Napi::Number::New(env, kMaxFeatures));
  exports.Set("_fUpperQuantile", Napi::Function::New(env, FUpperQuantile, "_fUpperQuantile"));
  exports.Set("_chi2UpperQuantile",
              Napi::Function::New(env, Chi2UpperQuantile, "_chi2UpperQuantile"));
  exports.Set("_normalUpperQuantile",
              Napi::Function::New(env, NormalUpperQuantile, "_normalUpperQuantile"));
  exports.Set("_incBeta", Napi::Function::New(env, IncBeta, "_incBeta"));
  exports.Set("_incGamma", Napi::Function::New(env, IncGamma, "_incGamma"));
  return exports;
}

}  // namespace
}  // namespace tads::binding

static Napi::Object InitTads(Napi::Env env, Napi::Object exports) {
  return tads::binding::Init(env, exports);
}

NODE_API_MODULE(tads, InitTads)
