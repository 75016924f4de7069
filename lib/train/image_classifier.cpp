// MLP / CNN image classifiers from a small JSON config (tf/train_model.h).
#include <cmath>
#include <cstring>
#include <filesystem>

#include "tf/error.h"
#include "tf/json_file.h"
#include "tf/rng.h"
#include "tf/safetensors.h"
#include "tf/train_model.h"
#include "tf/train_ops.h"

namespace tf::train {

namespace {

using json = nlohmann::json;

struct ConvSpec {
  int64_t channels = 0, kernel = 3, stride = 1, padding = 0, pool = 1;
  bool avg_pool = false;
};

int64_t positive(const json& j, const char* key, const std::string& where, int64_t fallback = -1) {
  if (!j.contains(key)) {
    if (fallback >= 0) return fallback;
    fail(where, ": missing \"", key, "\"");
  }
  if (!j[key].is_number_integer() || j[key].get<int64_t>() < (fallback == 0 ? 0 : 1))
    fail(where, ": \"", key, "\" must be a ", fallback == 0 ? "non-negative" : "positive", " integer");
  return j[key].get<int64_t>();
}

void only_keys(const json& j, std::initializer_list<const char*> keys, const std::string& where) {
  if (!j.is_object()) fail(where, ": expected a JSON object");
  for (const auto& [k, _] : j.items()) {
    bool known = false;
    for (const char* key : keys) known = known || k == key;
    if (!known) fail(where, ": unknown field \"", k, "\"");
  }
}

}  // namespace

struct ImageClassifier::Impl {
  json config;
  int64_t C = 0, H = 0, W = 0, classes = 0;
  std::vector<ConvSpec> convs;
  std::vector<int64_t> hidden;
  hf::Activation act = hf::Activation::Relu;
  bool batch_norm = false;
  float dropout_p = 0.0f;
  bool training = true;
  Rng dropout_rng{0};

  struct Layer {
    Var w, b, bn_w, bn_b, bn_mean, bn_var;  // bn_* undefined without batch_norm
  };
  std::vector<Layer> conv_layers, fc_layers;
  Var head_w, head_b;
  std::vector<NamedParam> params, buffers;
  std::vector<int64_t> fan_in;  // per parameter: its U(±1/√fan_in) bound; 0 = BatchNorm (ones / zeros)

  void parse(const json& j) {
    const std::string where = "image classifier config";
    only_keys(j, {"model_type", "image", "num_classes", "conv", "hidden", "activation", "batch_norm", "dropout"}, where);
    if (j.contains("model_type") && j["model_type"] != "image_classifier")
      fail(where, ": model_type must be \"image_classifier\"");
    if (!j.contains("image") || !j["image"].is_array() || j["image"].size() != 3)
      fail(where, ": \"image\" must be [channels, height, width]");
    for (const json& d : j["image"])
      if (!d.is_number_integer() || d.get<int64_t>() < 1) fail(where, ": \"image\" sizes must be positive integers");
    C = j["image"][0].get<int64_t>(), H = j["image"][1].get<int64_t>(), W = j["image"][2].get<int64_t>();
    classes = positive(j, "num_classes", where);
    if (j.contains("conv")) {
      if (!j["conv"].is_array()) fail(where, ": \"conv\" must be a list");
      for (size_t i = 0; i < j["conv"].size(); ++i) {
        const json& c = j["conv"][i];
        const std::string at = where + " conv[" + std::to_string(i) + "]";
        only_keys(c, {"channels", "kernel", "stride", "padding", "pool", "pool_type"}, at);
        ConvSpec s;
        s.channels = positive(c, "channels", at);
        s.kernel = positive(c, "kernel", at, 3);
        s.stride = positive(c, "stride", at, 1);
        s.padding = positive(c, "padding", at, 0);
        s.pool = positive(c, "pool", at, 1);
        if (c.contains("pool_type")) {
          if (c["pool_type"] != "max" && c["pool_type"] != "avg") fail(at, ": pool_type must be \"max\" or \"avg\"");
          s.avg_pool = c["pool_type"] == "avg";
        }
        convs.push_back(s);
      }
    }
    if (j.contains("hidden")) {
      if (!j["hidden"].is_array()) fail(where, ": \"hidden\" must be a list of sizes");
      for (const json& h : j["hidden"]) {
        if (!h.is_number_integer() || h.get<int64_t>() < 1) fail(where, ": \"hidden\" sizes must be positive integers");
        hidden.push_back(h.get<int64_t>());
      }
    }
    if (j.contains("activation")) {
      const auto a = j["activation"].is_string() ? hf::activation_from_hf(j["activation"].get<std::string>()) : std::nullopt;
      if (!a || (*a != hf::Activation::Relu && *a != hf::Activation::Gelu && *a != hf::Activation::Silu &&
                 *a != hf::Activation::Tanh))
        fail(where, ": activation must be relu, gelu, silu or tanh");
      act = *a;
    }
    if (j.contains("batch_norm")) {
      if (!j["batch_norm"].is_boolean()) fail(where, ": \"batch_norm\" must be true or false");
      batch_norm = j["batch_norm"].get<bool>();
    }
    if (j.contains("dropout")) {
      if (!j["dropout"].is_number() || j["dropout"].get<double>() < 0 || j["dropout"].get<double>() >= 1)
        fail(where, ": \"dropout\" must be in [0, 1)");
      dropout_p = j["dropout"].get<float>();
    }
  }

  Var param(const std::string& name, Shape shape, int64_t fan) {
    Var v = Var::parameter(Tensor::zeros(DType::F32, std::move(shape)), name);
    params.push_back({name, v});
    fan_in.push_back(fan);
    return v;
  }
  Var buffer(const std::string& name, int64_t n, float value) {
    Var v = Var::zeros({n});
    std::fill(v.mutable_data(), v.mutable_data() + n, value);
    buffers.push_back({name, v});
    return v;
  }
  void add_bn(Layer& l, const std::string& prefix, int64_t n) {
    if (!batch_norm) return;
    l.bn_w = param(prefix + ".weight", {n}, 0);
    l.bn_b = param(prefix + ".bias", {n}, 0);
    l.bn_mean = buffer(prefix + ".running_mean", n, 0.0f);
    l.bn_var = buffer(prefix + ".running_var", n, 1.0f);
  }

  void build() {
    int64_t c = C, h = H, w = W;
    for (size_t i = 0; i < convs.size(); ++i) {
      const ConvSpec& s = convs[i];
      const std::string n = std::to_string(i);
      Layer l;
      const int64_t fan = c * s.kernel * s.kernel;
      l.w = param("conv." + n + ".weight", {s.channels, c, s.kernel, s.kernel}, fan);
      l.b = param("conv." + n + ".bias", {s.channels}, fan);
      add_bn(l, "conv_bn." + n, s.channels);
      if (h + 2 * s.padding < s.kernel || w + 2 * s.padding < s.kernel)
        fail("image classifier config: conv[", i, "] kernel ", s.kernel, " larger than its ", h, "x", w, " input");
      h = (h + 2 * s.padding - s.kernel) / s.stride + 1;
      w = (w + 2 * s.padding - s.kernel) / s.stride + 1;
      if (s.pool > 1) {
        if (h < s.pool || w < s.pool) fail("image classifier config: conv[", i, "] pool ", s.pool, " larger than ", h, "x", w);
        h = (h - s.pool) / s.pool + 1;
        w = (w - s.pool) / s.pool + 1;
      }
      c = s.channels;
      conv_layers.push_back(l);
    }
    int64_t features = c * h * w;
    for (size_t i = 0; i < hidden.size(); ++i) {
      const std::string n = std::to_string(i);
      Layer l;
      l.w = param("fc." + n + ".weight", {hidden[i], features}, features);
      l.b = param("fc." + n + ".bias", {hidden[i]}, features);
      add_bn(l, "fc_bn." + n, hidden[i]);
      features = hidden[i];
      fc_layers.push_back(l);
    }
    head_w = param("head.weight", {classes, features}, features);
    head_b = param("head.bias", {classes}, features);
  }

  void initialise(uint64_t seed) {
    Rng rng(seed);
    for (size_t i = 0; i < params.size(); ++i) {
      float* p = params[i].var.mutable_data();
      const int64_t n = params[i].var.numel();
      if (fan_in[i] == 0) {  // BatchNorm affine: weight 1, bias 0
        std::fill(p, p + n, params[i].name.ends_with(".weight") ? 1.0f : 0.0f);
        continue;
      }
      const float bound = 1.0f / std::sqrt(float(fan_in[i]));
      for (int64_t j = 0; j < n; ++j) p[j] = bound * (2.0f * rng.uniform() - 1.0f);
    }
    dropout_rng = Rng(seed ^ 0x9e3779b97f4a7c15ull);
  }

  Var activate(const Var& x) const {
    switch (act) {
      case hf::Activation::Gelu: return gelu(x);
      case hf::Activation::Silu: return silu(x);
      case hf::Activation::Tanh: return tanh(x);
      default: return relu(x);
    }
  }

  Var forward(std::span<const float> pixels, int64_t batch) {
    const int64_t in = C * H * W;
    if (batch <= 0 || int64_t(pixels.size()) != batch * in)
      fail("image classifier: ", pixels.size(), " pixels for ", batch, " images of ", C, "x", H, "x", W);
    Var x = Var::from({batch, C, H, W}, std::vector<float>(pixels.begin(), pixels.end()));
    for (size_t i = 0; i < convs.size(); ++i) {
      const Layer& l = conv_layers[i];
      x = conv2d(x, l.w, l.b, convs[i].stride, convs[i].padding);
      if (batch_norm) x = batch_norm_op(x, l);
      x = activate(x);
      if (convs[i].pool > 1) x = convs[i].avg_pool ? avg_pool2d(x, convs[i].pool) : max_pool2d(x, convs[i].pool);
    }
    x = reshape(x, {batch, -1});
    for (const Layer& l : fc_layers) {
      x = linear(x, l.w, l.b);
      if (batch_norm) x = batch_norm_op(x, l);
      x = dropout(activate(x), dropout_p, dropout_rng, training);
    }
    return linear(x, head_w, head_b);
  }

  Var batch_norm_op(const Var& x, const Layer& l) const {
    return train::batch_norm(x, l.bn_w, l.bn_b, l.bn_mean, l.bn_var, training);
  }
};

ImageClassifier::ImageClassifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ImageClassifier::~ImageClassifier() = default;

std::unique_ptr<ImageClassifier> ImageClassifier::init(const nlohmann::json& config, uint64_t seed) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->config["model_type"] = "image_classifier";
  impl->parse(impl->config);
  impl->build();
  impl->initialise(seed);
  return std::unique_ptr<ImageClassifier>(new ImageClassifier(std::move(impl)));
}

std::unique_ptr<ImageClassifier> ImageClassifier::load(const std::string& dir) {
  auto impl = std::make_unique<Impl>();
  impl->config = read_json_file((std::filesystem::path(dir) / "config.json").string());
  impl->parse(impl->config);
  impl->build();
  const auto file = safetensors::File::open((std::filesystem::path(dir) / "model.safetensors").string());
  size_t expected = 0;
  for (auto* list : {&impl->params, &impl->buffers})
    for (NamedParam& p : *list) {
      ++expected;
      const safetensors::TensorInfo* info = file.find(p.name);
      if (!info) fail(file.path(), ": missing ", p.name);
      const Tensor t = file.tensor(p.name).to(DType::F32).contiguous();
      if (t.shape() != p.var.shape())
        fail(file.path(), ": ", p.name, " is ", t.shape_string(), ", expected ", shape_string(p.var.shape()));
      std::memcpy(p.var.mutable_data(), t.data(), size_t(t.numel()) * sizeof(float));
    }
  if (file.tensors().size() != expected)
    fail(file.path(), ": ", file.tensors().size(), " tensors, the config describes ", expected);
  return std::unique_ptr<ImageClassifier>(new ImageClassifier(std::move(impl)));
}

const nlohmann::json& ImageClassifier::config_json() const { return impl_->config; }
int64_t ImageClassifier::num_classes() const { return impl_->classes; }
int64_t ImageClassifier::input_size() const { return impl_->C * impl_->H * impl_->W; }
std::vector<NamedParam> ImageClassifier::parameters() const { return impl_->params; }
std::vector<NamedParam> ImageClassifier::buffers() const { return impl_->buffers; }

std::vector<Var> ImageClassifier::parameter_vars() const {
  std::vector<Var> out;
  for (const NamedParam& p : impl_->params) out.push_back(p.var);
  return out;
}

void ImageClassifier::set_training(bool training) { impl_->training = training; }
bool ImageClassifier::training() const { return impl_->training; }

Var ImageClassifier::logits(std::span<const float> pixels, int64_t batch) { return impl_->forward(pixels, batch); }

Var ImageClassifier::loss(std::span<const float> pixels, std::span<const int32_t> labels, int64_t batch) {
  if (int64_t(labels.size()) != batch) fail("image classifier: ", labels.size(), " labels for ", batch, " images");
  return cross_entropy(impl_->forward(pixels, batch), std::vector<int32_t>(labels.begin(), labels.end()));
}

void ImageClassifier::save(const std::string& dir) const {
  std::filesystem::create_directories(dir);
  safetensors::Writer writer;
  writer.set_metadata("format", "pt");
  for (const auto* list : {&impl_->params, &impl_->buffers})
    for (const NamedParam& p : *list) writer.add(p.name, p.var.value());
  writer.write((std::filesystem::path(dir) / "model.safetensors").string());
  write_json_file((std::filesystem::path(dir) / "config.json").string(), impl_->config);
}

}  // namespace tf::train
