#include "derm/model/safetensors.hpp"

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"

namespace derm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct DtypeName {
  torch::ScalarType type;
  const char* name;
};

constexpr DtypeName kDtypes[] = {
    {torch::kFloat32, "F32"}, {torch::kFloat64, "F64"}, {torch::kFloat16, "F16"},
    {torch::kBFloat16, "BF16"}, {torch::kInt64, "I64"}, {torch::kInt32, "I32"},
    {torch::kInt16, "I16"}, {torch::kInt8, "I8"}, {torch::kUInt8, "U8"}, {torch::kBool, "BOOL"},
};

const char* dtype_name(torch::ScalarType type) {
  for (const auto& d : kDtypes) {
    if (d.type == type) return d.name;
  }
  throw Error(std::string("safetensors: unsupported tensor type ") + c10::toString(type));
}

torch::ScalarType dtype_from_name(const std::string& name, const std::string& origin) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return d.type;
  }
  throw Error(origin + ": unsupported tensor type '" + name + "'");
}

constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;

std::uint64_t read_header_length(std::istream& in, std::uint64_t file_size, const std::string& origin) {
  if (file_size < 8) throw Error(origin + ": not a derm model file (too short)");
  unsigned char bytes[8];
  in.read(reinterpret_cast<char*>(bytes), 8);
  std::uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | bytes[i];
  if (length == 0 || length > kMaxHeaderBytes) {
    throw Error(origin + ": not a derm model file (bad header length)");
  }
  if (length > file_size - 8) throw Error(origin + ": truncated file (header incomplete)");
  return length;
}

json read_header(std::istream& in, std::uint64_t length, const std::string& origin) {
  std::string text(length, '\0');
  in.read(text.data(), static_cast<std::streamsize>(length));
  if (text.empty() || text.front() != '{') throw Error(origin + ": not a derm model file (no JSON header)");
  try {
    return json::parse(text);
  } catch (const json::exception&) {
    throw Error(origin + ": not a derm model file (malformed JSON header)");
  }
}

std::map<std::string, std::string> metadata_of(const json& header) {
  std::map<std::string, std::string> metadata;
  if (auto it = header.find("__metadata__"); it != header.end() && it->is_object()) {
    for (const auto& [key, value] : it->items()) {
      if (value.is_string()) metadata[key] = value.get<std::string>();
    }
  }
  return metadata;
}

std::ifstream open_model_file(const fs::path& path, std::uint64_t* file_size) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error(path.string() + ": no such model file");
  *file_size = fs::file_size(path, ec);
  std::ifstream in(path, std::ios::binary);
  if (!in || ec) throw Error(path.string() + ": cannot open");
  return in;
}

}  // namespace

void write_safetensors(const fs::path& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> contiguous;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    auto cpu = tensor.detach().to(torch::kCPU).contiguous();
    const std::uint64_t bytes = cpu.numel() * cpu.element_size();
    header[name] = {{"dtype", dtype_name(cpu.scalar_type())},
                    {"shape", cpu.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(std::move(cpu));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  write_file_atomically(path, [&](std::ostream& out) {
    std::uint64_t length = text.size();
    unsigned char bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>((length >> (8 * i)) & 0xFF);
    out.write(reinterpret_cast<const char*>(bytes), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& t : contiguous) {
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
    }
  });
}

std::map<std::string, std::string> read_safetensors_metadata(const fs::path& path) {
  const std::string origin = path.string();
  std::uint64_t file_size = 0;
  std::ifstream in = open_model_file(path, &file_size);
  return metadata_of(read_header(in, read_header_length(in, file_size, origin), origin));
}

SafetensorsContent read_safetensors(const fs::path& path) {
  const std::string origin = path.string();
  std::uint64_t file_size = 0;
  std::ifstream in = open_model_file(path, &file_size);
  const std::uint64_t header_length = read_header_length(in, file_size, origin);
  const json header = read_header(in, header_length, origin);
  const std::uint64_t data_size = file_size - 8 - header_length;

  SafetensorsContent content;
  content.metadata = metadata_of(header);
  std::uint64_t covered = 0;
  std::uint64_t needed = 0;
  struct Entry {
    std::string name;
    torch::ScalarType type;
    std::vector<int64_t> shape;
    std::uint64_t begin;
  };
  std::vector<Entry> entries;
  try {
    for (const auto& [name, info] : header.items()) {
      if (name == "__metadata__") continue;
      Entry e{name, dtype_from_name(info.at("dtype").get<std::string>(), origin),
              info.at("shape").get<std::vector<int64_t>>(), 0};
      const auto offsets = info.at("data_offsets").get<std::vector<std::uint64_t>>();
      if (offsets.size() != 2 || offsets[1] < offsets[0]) throw Error(origin + ": bad offsets of tensor " + name);
      std::uint64_t numel = 1;
      for (auto d : e.shape) {
        if (d < 0) throw Error(origin + ": negative dimension in tensor " + name);
        numel *= static_cast<std::uint64_t>(d);
      }
      if (numel * c10::elementSize(e.type) != offsets[1] - offsets[0]) {
        throw Error(origin + ": size of tensor " + name + " does not match its shape");
      }
      e.begin = offsets[0];
      covered += offsets[1] - offsets[0];
      needed = std::max(needed, offsets[1]);
      entries.push_back(std::move(e));
    }
  } catch (const json::exception& ex) {
    throw Error(origin + ": malformed tensor table (" + ex.what() + ")");
  }
  if (needed > data_size) {
    throw Error(origin + ": truncated file (" + std::to_string(data_size) + " of " +
                std::to_string(needed) + " bytes of tensor data)");
  }
  if (covered != needed || needed != data_size) {
    throw Error(origin + ": malformed file (tensor data has gaps, overlaps or trailing bytes)");
  }
  // Each tensor's bytes go straight from the file into its own storage, in file
  // order (no intermediate copy of the whole data section).
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  const std::uint64_t data_start = 8 + header_length;
  std::uint64_t position = 0;  // within the data section
  for (auto& e : entries) {
    auto tensor = torch::empty(e.shape, torch::TensorOptions().dtype(e.type));
    const auto bytes = static_cast<std::uint64_t>(tensor.numel()) * tensor.element_size();
    if (e.begin != position) in.seekg(static_cast<std::streamoff>(data_start + e.begin));
    in.read(static_cast<char*>(tensor.data_ptr()), static_cast<std::streamsize>(bytes));
    if (!in || static_cast<std::uint64_t>(in.gcount()) != bytes) throw Error(origin + ": read failed");
    position = e.begin + bytes;
    content.tensors.emplace(std::move(e.name), std::move(tensor));
  }
  return content;
}

}  // namespace derm
