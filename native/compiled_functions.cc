// collapse-kit: compiled steps for the native tfjs backend.
//
// Adds two functions to tfjs-node's N-API binding (scripts/setup-native.sh compiles this file into
// it):
//
//   compileFunction(name, spec)  builds a TF_Graph from a recorded list of ops (the very op names and
//                                attributes tfjs-node passes to eager execution), turns it into a
//                                TensorFlow function and adds it to the binding's eager context.
//                                `binding.executeOp(name, [], inputIds, numOutputs)` then runs the
//                                whole graph as one eager op, on the same device tensors.
//   removeFunction(name)         drops it from the context again.
//
// spec = { inputs: Int32Array (dtype per graph input),
//          consts: [{ dtype, shape: number[], values: TypedArray }],
//          nodes:  [{ op, attrs: [{ name, type, value }], inputs: Int32Array, numOutputs }],
//          outputs: Int32Array }
// Values are numbered in order: the graph inputs, then the constants, then every node's outputs.
// A node's flat input list is split into the op's arguments (single tensors and lists) by its
// OpDef, as eager execution does.

#include <node_api.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tensorflow/c/c_api.h"
#include "tensorflow/c/eager/c_api.h"
#include "tfjs_backend.h"

namespace tfnodejs {
namespace {

// The binding's eager context is a private member of TFJSBackend. An explicit template
// instantiation may name a private member (access checking does not apply there), which gives this
// file a pointer to it without changing tfjs-node's sources.
template <typename Tag, typename Tag::type Member>
struct Expose {
  friend typename Tag::type Get(Tag) { return Member; }
};
struct ContextTag {
  typedef TFE_Context *TFJSBackend::*type;
  friend type Get(ContextTag);
};
template struct Expose<ContextTag, &TFJSBackend::tfe_context_>;

TFE_Context *ContextOf(TFJSBackend *backend) { return backend->*Get(ContextTag()); }

struct Status {
  TF_Status *s = TF_NewStatus();
  ~Status() { TF_DeleteStatus(s); }
  bool ok() const { return TF_GetCode(s) == TF_OK; }
  const char *message() const { return TF_Message(s); }
};

// Thrown inside this file, turned into one JS Error at the N-API boundary.
struct Failure {
  std::string message;
};

void Check(napi_env env, napi_status status, const char *what) {
  if (status == napi_ok) return;
  const napi_extended_error_info *info = nullptr;
  napi_get_last_error_info(env, &info);
  throw Failure{std::string(what) + ": " + (info && info->error_message ? info->error_message : "N-API error")};
}

napi_value Property(napi_env env, napi_value object, const char *name) {
  napi_value value;
  Check(env, napi_get_named_property(env, object, name, &value), name);
  return value;
}

uint32_t Length(napi_env env, napi_value array, const char *what) {
  uint32_t n = 0;
  Check(env, napi_get_array_length(env, array, &n), what);
  return n;
}

napi_value Element(napi_env env, napi_value array, uint32_t i) {
  napi_value value;
  Check(env, napi_get_element(env, array, i, &value), "array element");
  return value;
}

int64_t Int(napi_env env, napi_value value, const char *what) {
  int64_t v;
  Check(env, napi_get_value_int64(env, value, &v), what);
  return v;
}

double Double(napi_env env, napi_value value, const char *what) {
  double v;
  Check(env, napi_get_value_double(env, value, &v), what);
  return v;
}

bool Bool(napi_env env, napi_value value, const char *what) {
  bool v;
  Check(env, napi_get_value_bool(env, value, &v), what);
  return v;
}

std::string String(napi_env env, napi_value value, const char *what) {
  size_t n = 0;
  Check(env, napi_get_value_string_utf8(env, value, nullptr, 0, &n), what);
  std::string s(n, '\0');
  Check(env, napi_get_value_string_utf8(env, value, &s[0], n + 1, &n), what);
  return s;
}

bool IsArray(napi_env env, napi_value value) {
  bool is = false;
  Check(env, napi_is_array(env, value, &is), "is array");
  return is;
}

// An Int32Array argument, or a plain array of numbers.
std::vector<int32_t> Int32s(napi_env env, napi_value value, const char *what) {
  bool typed = false;
  Check(env, napi_is_typedarray(env, value, &typed), what);
  std::vector<int32_t> out;
  if (typed) {
    napi_typedarray_type type;
    size_t length;
    void *data;
    Check(env, napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr), what);
    if (type != napi_int32_array) throw Failure{std::string(what) + ": expected an Int32Array"};
    out.assign(static_cast<int32_t *>(data), static_cast<int32_t *>(data) + length);
    return out;
  }
  const uint32_t n = Length(env, value, what);
  out.reserve(n);
  for (uint32_t i = 0; i < n; i++) out.push_back(static_cast<int32_t>(Int(env, Element(env, value, i), what)));
  return out;
}

std::vector<int64_t> Int64s(napi_env env, napi_value array, const char *what) {
  const uint32_t n = Length(env, array, what);
  std::vector<int64_t> out(n);
  for (uint32_t i = 0; i < n; i++) out[i] = Int(env, Element(env, array, i), what);
  return out;
}

// --- OpDef: which of an op's inputs are lists, and how long ---------------------------------------
// TF_GraphGetOpDef returns a serialized OpDef proto; the few fields needed here are read from its
// wire format directly (OpDef.input_arg = 2; ArgDef.number_attr = 5, ArgDef.type_list_attr = 6).

struct ArgShape {
  std::string number_attr;     // a list of N tensors of one type, N from this int attr
  std::string type_list_attr;  // a list whose length is that of this list(type) attr
};

bool ReadVarint(const uint8_t *&p, const uint8_t *end, uint64_t &v) {
  v = 0;
  for (int shift = 0; p < end && shift < 64; shift += 7) {
    const uint8_t b = *p++;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

// Calls `field(number, data, size)` for each length-delimited field and skips the others.
template <typename F>
void ForEachBytesField(const uint8_t *p, const uint8_t *end, F field) {
  while (p < end) {
    uint64_t key, v;
    if (!ReadVarint(p, end, key)) throw Failure{"malformed OpDef"};
    const int number = static_cast<int>(key >> 3);
    switch (key & 7) {
      case 0:
        if (!ReadVarint(p, end, v)) throw Failure{"malformed OpDef"};
        break;
      case 1:
        p += 8;
        break;
      case 5:
        p += 4;
        break;
      case 2:
        if (!ReadVarint(p, end, v) || v > static_cast<uint64_t>(end - p)) throw Failure{"malformed OpDef"};
        field(number, p, static_cast<size_t>(v));
        p += v;
        break;
      default:
        throw Failure{"malformed OpDef"};
    }
  }
  if (p != end) throw Failure{"malformed OpDef"};
}

std::vector<ArgShape> InputArgs(TF_Graph *graph, const std::string &op) {
  static std::map<std::string, std::vector<ArgShape>> cache;
  auto hit = cache.find(op);
  if (hit != cache.end()) return hit->second;
  Status status;
  TF_Buffer *buffer = TF_NewBuffer();
  TF_GraphGetOpDef(graph, op.c_str(), buffer, status.s);
  if (!status.ok()) {
    TF_DeleteBuffer(buffer);
    throw Failure{"op " + op + ": " + status.message()};
  }
  std::vector<ArgShape> args;
  const uint8_t *data = static_cast<const uint8_t *>(buffer->data);
  ForEachBytesField(data, data + buffer->length, [&](int number, const uint8_t *p, size_t n) {
    if (number != 2) return;
    ArgShape arg;
    ForEachBytesField(p, p + n, [&](int f, const uint8_t *q, size_t m) {
      if (f == 5) arg.number_attr.assign(reinterpret_cast<const char *>(q), m);
      if (f == 6) arg.type_list_attr.assign(reinterpret_cast<const char *>(q), m);
    });
    args.push_back(arg);
  });
  TF_DeleteBuffer(buffer);
  cache[op] = args;
  return args;
}

// --- attributes, as tfjs-node's executeOp takes them ------------------------------------------------

struct Attrs {
  std::map<std::string, int64_t> ints;  // the scalar int attrs, for list lengths
};

void SetAttr(napi_env env, TF_OperationDescription *desc, napi_value attr, Attrs &seen) {
  const std::string name = String(env, Property(env, attr, "name"), "attr name");
  const int type = static_cast<int>(Int(env, Property(env, attr, "type"), "attr type"));
  napi_value value = Property(env, attr, "value");
  const char *n = name.c_str();
  switch (type) {
    case TF_ATTR_STRING: {
      const std::string s = String(env, value, n);
      TF_SetAttrString(desc, n, s.data(), s.size());
      break;
    }
    case TF_ATTR_INT:
      if (IsArray(env, value)) {
        const std::vector<int64_t> v = Int64s(env, value, n);
        TF_SetAttrIntList(desc, n, v.data(), static_cast<int>(v.size()));
      } else {
        const int64_t v = Int(env, value, n);
        seen.ints[name] = v;
        TF_SetAttrInt(desc, n, v);
      }
      break;
    case TF_ATTR_FLOAT:
      if (IsArray(env, value)) {
        const uint32_t len = Length(env, value, n);
        std::vector<float> v(len);
        for (uint32_t i = 0; i < len; i++) v[i] = static_cast<float>(Double(env, Element(env, value, i), n));
        TF_SetAttrFloatList(desc, n, v.data(), static_cast<int>(len));
      } else {
        TF_SetAttrFloat(desc, n, static_cast<float>(Double(env, value, n)));
      }
      break;
    case TF_ATTR_BOOL:
      if (IsArray(env, value)) {
        const uint32_t len = Length(env, value, n);
        std::vector<unsigned char> v(len);
        for (uint32_t i = 0; i < len; i++) v[i] = Bool(env, Element(env, value, i), n) ? 1 : 0;
        TF_SetAttrBoolList(desc, n, v.data(), static_cast<int>(len));
      } else {
        TF_SetAttrBool(desc, n, Bool(env, value, n) ? 1 : 0);
      }
      break;
    case TF_ATTR_TYPE:
      TF_SetAttrType(desc, n, static_cast<TF_DataType>(Int(env, value, n)));
      break;
    case TF_ATTR_SHAPE: {
      const std::vector<int64_t> dims = Int64s(env, value, n);
      TF_SetAttrShape(desc, n, dims.data(), static_cast<int>(dims.size()));
      break;
    }
    default:
      throw Failure{"attr " + name + ": unsupported attribute type " + std::to_string(type)};
  }
}

// --- constants ----------------------------------------------------------------------------------------

size_t ElementSize(TF_DataType dtype) {
  switch (dtype) {
    case TF_FLOAT:
    case TF_INT32:
      return 4;
    case TF_BOOL:
    case TF_UINT8:
      return 1;
    case TF_INT64:
      return 8;
    default:
      throw Failure{"constant of unsupported dtype " + std::to_string(static_cast<int>(dtype))};
  }
}

void NoDeallocate(void *, size_t, void *) {}

TF_Output AddConst(napi_env env, TF_Graph *graph, napi_value spec, int index) {
  const TF_DataType dtype = static_cast<TF_DataType>(Int(env, Property(env, spec, "dtype"), "const dtype"));
  const std::vector<int64_t> shape = Int64s(env, Property(env, spec, "shape"), "const shape");
  napi_value values = Property(env, spec, "values");
  napi_typedarray_type type;
  size_t length;
  void *data;
  Check(env, napi_get_typedarray_info(env, values, &type, &length, &data, nullptr, nullptr), "const values");
  size_t count = 1;
  for (int64_t d : shape) count *= static_cast<size_t>(d);
  const size_t bytes = count * ElementSize(dtype);
  size_t have = length;
  switch (type) {
    case napi_float32_array:
    case napi_int32_array:
    case napi_uint32_array:
      have *= 4;
      break;
    case napi_float64_array:
    case napi_bigint64_array:
      have *= 8;
      break;
    default:
      break;
  }
  if (have != bytes) throw Failure{"constant " + std::to_string(index) + ": " + std::to_string(have) + " bytes of values for " + std::to_string(bytes)};
  // TF_SetAttrTensor copies the tensor into the graph, so the JS buffer is only borrowed here.
  TF_Tensor *tensor = TF_NewTensor(dtype, shape.data(), static_cast<int>(shape.size()), data, bytes, NoDeallocate, nullptr);
  const std::string name = "const_" + std::to_string(index);
  TF_OperationDescription *desc = TF_NewOperation(graph, "Const", name.c_str());
  Status status;
  TF_SetAttrTensor(desc, "value", tensor, status.s);
  TF_SetAttrType(desc, "dtype", dtype);
  TF_DeleteTensor(tensor);
  if (!status.ok()) throw Failure{name + ": " + status.message()};
  TF_Operation *op = TF_FinishOperation(desc, status.s);
  if (!status.ok()) throw Failure{name + ": " + status.message()};
  return TF_Output{op, 0};
}

// --- the graph ------------------------------------------------------------------------------------------

struct GraphDeleter {
  void operator()(TF_Graph *g) const { TF_DeleteGraph(g); }
};

void BuildAndAdd(napi_env env, TFE_Context *context, const std::string &fn_name, napi_value spec) {
  std::unique_ptr<TF_Graph, GraphDeleter> graph(TF_NewGraph());
  Status status;
  std::vector<TF_Output> values;

  const std::vector<int32_t> input_types = Int32s(env, Property(env, spec, "inputs"), "inputs");
  std::vector<TF_Output> inputs;
  for (size_t i = 0; i < input_types.size(); i++) {
    const std::string name = "input_" + std::to_string(i);
    TF_OperationDescription *desc = TF_NewOperation(graph.get(), "Placeholder", name.c_str());
    TF_SetAttrType(desc, "dtype", static_cast<TF_DataType>(input_types[i]));
    TF_Operation *op = TF_FinishOperation(desc, status.s);
    if (!status.ok()) throw Failure{name + ": " + status.message()};
    inputs.push_back(TF_Output{op, 0});
    values.push_back(TF_Output{op, 0});
  }

  napi_value consts = Property(env, spec, "consts");
  const uint32_t num_consts = Length(env, consts, "consts");
  for (uint32_t i = 0; i < num_consts; i++) values.push_back(AddConst(env, graph.get(), Element(env, consts, i), static_cast<int>(i)));

  napi_value nodes = Property(env, spec, "nodes");
  const uint32_t num_nodes = Length(env, nodes, "nodes");
  for (uint32_t i = 0; i < num_nodes; i++) {
    napi_value node = Element(env, nodes, i);
    const std::string op_type = String(env, Property(env, node, "op"), "op");
    const std::string where = "node " + std::to_string(i) + " (" + op_type + ")";
    const std::vector<int32_t> refs = Int32s(env, Property(env, node, "inputs"), "node inputs");
    const int num_outputs = static_cast<int>(Int(env, Property(env, node, "numOutputs"), "numOutputs"));
    for (int32_t r : refs) {
      if (r < 0 || static_cast<size_t>(r) >= values.size()) throw Failure{where + ": input refers to value " + std::to_string(r) + " of " + std::to_string(values.size())};
    }
    const std::string name = "n" + std::to_string(i);
    TF_OperationDescription *desc = TF_NewOperation(graph.get(), op_type.c_str(), name.c_str());
    Attrs seen;
    napi_value attrs = Property(env, node, "attrs");
    const uint32_t num_attrs = Length(env, attrs, "attrs");
    for (uint32_t a = 0; a < num_attrs; a++) SetAttr(env, desc, Element(env, attrs, a), seen);

    const std::vector<ArgShape> args = InputArgs(graph.get(), op_type);
    size_t singles_after = 0;
    size_t next = 0;
    for (size_t a = 0; a < args.size(); a++) {
      const ArgShape &arg = args[a];
      if (arg.number_attr.empty() && arg.type_list_attr.empty()) {
        if (next >= refs.size()) throw Failure{where + ": too few inputs for its op definition"};
        TF_AddInput(desc, values[refs[next++]]);
        continue;
      }
      // A list: its length from the attribute if tfjs set it, else whatever the single arguments
      // after it leave over.
      singles_after = 0;
      for (size_t b = a + 1; b < args.size(); b++) singles_after += args[b].number_attr.empty() && args[b].type_list_attr.empty();
      size_t count;
      auto known = seen.ints.find(arg.number_attr);
      if (!arg.number_attr.empty() && known != seen.ints.end()) {
        count = static_cast<size_t>(known->second);
      } else {
        if (refs.size() < next + singles_after) throw Failure{where + ": too few inputs for its op definition"};
        count = refs.size() - next - singles_after;
      }
      if (next + count > refs.size()) throw Failure{where + ": too few inputs for its op definition"};
      std::vector<TF_Output> list;
      for (size_t k = 0; k < count; k++) list.push_back(values[refs[next++]]);
      TF_AddInputList(desc, list.data(), static_cast<int>(list.size()));
    }
    if (next != refs.size()) throw Failure{where + ": " + std::to_string(refs.size()) + " inputs where its op definition takes " + std::to_string(next)};
    TF_Operation *op = TF_FinishOperation(desc, status.s);
    if (!status.ok()) throw Failure{where + ": " + status.message()};
    if (TF_OperationNumOutputs(op) < num_outputs) throw Failure{where + ": has " + std::to_string(TF_OperationNumOutputs(op)) + " outputs, " + std::to_string(num_outputs) + " were recorded"};
    for (int k = 0; k < num_outputs; k++) values.push_back(TF_Output{op, k});
  }

  const std::vector<int32_t> output_refs = Int32s(env, Property(env, spec, "outputs"), "outputs");
  std::vector<TF_Output> outputs;
  for (int32_t r : output_refs) {
    if (r < 0 || static_cast<size_t>(r) >= values.size()) throw Failure{"output refers to value " + std::to_string(r) + " of " + std::to_string(values.size())};
    outputs.push_back(values[r]);
  }

  TF_Function *fn = TF_GraphToFunction(graph.get(), fn_name.c_str(), 0, -1, nullptr, static_cast<int>(inputs.size()), inputs.data(),
                                       static_cast<int>(outputs.size()), outputs.data(), nullptr, nullptr, "collapse-kit compiled step", status.s);
  if (!status.ok()) throw Failure{std::string("TF_GraphToFunction: ") + status.message()};
  TFE_ContextAddFunction(context, fn, status.s);
  TF_DeleteFunction(fn);
  if (!status.ok()) throw Failure{std::string("TFE_ContextAddFunction: ") + status.message()};
}

TFJSBackend *Backend(napi_env env) {
  void *data = nullptr;
  Check(env, napi_get_instance_data(env, &data), "instance data");
  if (data == nullptr) throw Failure{"the tfjs-node backend is not initialised"};
  return static_cast<TFJSBackend *>(data);
}

napi_value CompileFunction(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  try {
    Check(env, napi_get_cb_info(env, info, &argc, args, nullptr, nullptr), "arguments");
    if (argc < 2) throw Failure{"compileFunction(name, spec) takes 2 arguments"};
    BuildAndAdd(env, ContextOf(Backend(env)), String(env, args[0], "name"), args[1]);
  } catch (const Failure &f) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, nullptr, ("compileFunction: " + f.message).c_str());
  }
  return nullptr;
}

napi_value RemoveFunction(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  try {
    Check(env, napi_get_cb_info(env, info, &argc, args, nullptr, nullptr), "arguments");
    if (argc < 1) throw Failure{"removeFunction(name) takes 1 argument"};
    Status status;
    TFE_ContextRemoveFunction(ContextOf(Backend(env)), String(env, args[0], "name").c_str(), status.s);
    if (!status.ok()) throw Failure{status.message()};
  } catch (const Failure &f) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, nullptr, ("removeFunction: " + f.message).c_str());
  }
  return nullptr;
}

}  // namespace

// Called from the binding's module initialiser (see scripts/setup-native.sh).
napi_value CollapseRegisterFunctions(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"compileFunction", nullptr, CompileFunction, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"removeFunction", nullptr, RemoveFunction, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(properties) / sizeof(properties[0]), properties);
  return exports;
}

}  // namespace tfnodejs
