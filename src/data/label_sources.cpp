#include "derm/data/label_sources.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "derm/core/atomic_file.hpp"
#include "derm/data/csv.hpp"
#include "derm/core/error.hpp"
#include "derm/core/json_file.hpp"
#include "derm/core/image.hpp"

namespace derm {
namespace fs = std::filesystem;

namespace {

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string where(const fs::path& file, int line) {
  return file.string() + ":" + std::to_string(line);
}

// Remembers ids of one source to reject an id listed twice.
class IdRegistry {
 public:
  explicit IdRegistry(const fs::path& file) : file_(file) {}
  void add(const std::string& id, const std::string& origin) {
    if (id.empty()) throw Error(origin + ": empty image id");
    const auto [it, inserted] = first_.emplace(id, origin);
    if (!inserted) {
      throw Error(origin + ": duplicate id '" + id + "' (first at " + it->second + ")");
    }
  }

 private:
  fs::path file_;
  std::unordered_map<std::string, std::string> first_;
};

// 1.0/0.0 (also 1/0) -> true/false.
bool parse_flag(const std::string& text, const std::string& origin, const std::string& column) {
  if (text == "1" || text == "1.0" || text == "1.00") return true;
  if (text == "0" || text == "0.0" || text == "0.00") return false;
  throw Error(origin + ": column " + column + " must be 1.0 or 0.0, found '" + text + "'");
}

void fill_path(LabeledImage* image, const std::map<std::string, fs::path>& files) {
  const auto found = files.find(image->id);
  if (found != files.end()) image->path = found->second;
}

// A label CSV with one image per row, and what a row says about its image.
struct LabelCsvFormat {
  std::string what;      // "an ISIC 2016/2017 Part 3 ground truth", for the wrong-header message
  std::string expected;  // "the header 'image_id,melanoma,seborrheic_keratosis'"
  std::function<bool(const std::vector<std::string>&)> accepts;  // the header
  std::size_t id_column = 0;
  // The row's diagnosis (and lesion or patient ids) into `image`; derm::Error naming `origin`.
  std::function<void(const CsvTable&, const CsvRow&, const std::string& origin, LabeledImage& image)> read_row;
};

std::vector<LabeledImage> read_label_csv(const SourceSpec& spec, const LabelCsvFormat& format) {
  const CsvTable table = read_csv(spec.labels);
  if (!format.accepts(table.header)) {
    throw Error(spec.labels.string() + ": not " + format.what + ": expected " + format.expected + ", found '" +
                join_header(table.header) + "'");
  }
  const auto files = list_images(spec.images);
  IdRegistry ids(spec.labels);
  std::vector<LabeledImage> images;
  for (const auto& row : table.rows) {
    const auto origin = where(spec.labels, row.line);
    LabeledImage image;
    image.id = row.fields[format.id_column];
    ids.add(image.id, origin);
    format.read_row(table, row, origin, image);
    image.origin = origin;
    fill_path(&image, files);
    images.push_back(std::move(image));
  }
  return images;
}

const std::vector<std::string> kIsic2017Header = {"image_id", "melanoma", "seborrheic_keratosis"};
const std::vector<std::string> kIsic2018Header = {"image", "MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC"};
const std::vector<std::string> kIsic2019Header = {"image", "MEL", "NV",   "BCC", "AK",
                                                  "BKL",   "DF",  "VASC", "SCC", "UNK"};
const std::vector<std::string> kIsic2020Header = {"image_name",
                                                  "patient_id",
                                                  "lesion_id",
                                                  "sex",
                                                  "age_approx",
                                                  "anatom_site_general_challenge",
                                                  "diagnosis",
                                                  "benign_malignant",
                                                  "target"};
const std::vector<std::string> kHam10000Columns = {"lesion_id", "image_id", "dx"};

const LabelCsvFormat& isic2017_format() {
  static const LabelCsvFormat format{
      "an ISIC 2016/2017 Part 3 ground truth", "the header '" + join_header(kIsic2017Header) + "'",
      [](const std::vector<std::string>& header) { return header == kIsic2017Header; }, 0,
      [](const CsvTable&, const CsvRow& row, const std::string& origin, LabeledImage& image) {
        const bool melanoma = parse_flag(row.fields[1], origin, "melanoma");
        const bool keratosis = parse_flag(row.fields[2], origin, "seborrheic_keratosis");
        if (melanoma && keratosis) {
          throw Error(origin + ": '" + image.id + "' is marked both melanoma and seborrheic_keratosis");
        }
        image.diagnosis = melanoma ? Diagnosis::mel : keratosis ? Diagnosis::bkl : Diagnosis::nv;
      }};
  return format;
}

const LabelCsvFormat& one_hot_format() {
  static const LabelCsvFormat format{
      "an ISIC 2018/2019 one-hot ground truth",
      "the header '" + join_header(kIsic2019Header) + "' (2019) or '" + join_header(kIsic2018Header) + "' (2018)",
      [](const std::vector<std::string>& header) { return header == kIsic2018Header || header == kIsic2019Header; },
      0,
      [](const CsvTable& table, const CsvRow& row, const std::string& origin, LabeledImage& image) {
        int hot = -1;
        for (std::size_t c = 1; c < table.header.size(); ++c) {
          if (!parse_flag(row.fields[c], origin, table.header[c])) continue;
          if (hot >= 0) {
            throw Error(origin + ": '" + image.id + "' is marked both " +
                        table.header[static_cast<std::size_t>(hot)] + " and " + table.header[c]);
          }
          hot = static_cast<int>(c);
        }
        if (hot < 0) throw Error(origin + ": '" + image.id + "' has no class marked 1.0");
        image.diagnosis = *parse_diagnosis(table.header[static_cast<std::size_t>(hot)]);
      }};
  return format;
}

const LabelCsvFormat& isic2020_format() {
  static const LabelCsvFormat format{
      "an ISIC 2020 training CSV", "the header '" + join_header(kIsic2020Header) + "'",
      [](const std::vector<std::string>& header) { return header == kIsic2020Header; }, 0,
      [](const CsvTable&, const CsvRow& row, const std::string& origin, LabeledImage& image) {
        image.patient_id = row.fields[1];
        image.lesion_id = row.fields[2];
        const bool melanoma = parse_flag(row.fields[8], origin, "target");
        const auto diagnosis = parse_diagnosis(row.fields[6]);
        if (!diagnosis) throw Error(origin + ": unknown diagnosis '" + row.fields[6] + "'");
        image.diagnosis = melanoma ? Diagnosis::mel : *diagnosis;
        if (!melanoma && image.diagnosis == Diagnosis::mel) throw Error(origin + ": diagnosis melanoma but target 0");
        if (image.diagnosis == Diagnosis::unk && lower(row.fields[7]) == "benign") {
          image.diagnosis = Diagnosis::other_benign;
        }
      }};
  return format;
}

const LabelCsvFormat& ham10000_format() {
  static const LabelCsvFormat format{
      "a HAM10000 metadata CSV", "a header starting '" + join_header(kHam10000Columns) + "'",
      [](const std::vector<std::string>& header) {
        return header.size() >= kHam10000Columns.size() &&
               std::equal(kHam10000Columns.begin(), kHam10000Columns.end(), header.begin());
      },
      1,
      [](const CsvTable&, const CsvRow& row, const std::string& origin, LabeledImage& image) {
        static const std::set<std::string> codes = {"mel", "nv", "bkl", "bcc", "akiec", "df", "vasc"};
        image.lesion_id = row.fields[0];
        if (!codes.count(row.fields[2])) {
          throw Error(origin + ": unknown HAM10000 dx '" + row.fields[2] +
                      "' (expected mel, nv, bkl, bcc, akiec, df or vasc)");
        }
        image.diagnosis = *parse_diagnosis(row.fields[2]);
      }};
  return format;
}

std::string json_string(const nlohmann::json& object, const char* key) {
  const auto found = object.find(key);
  if (found == object.end() || !found->is_string()) return "";
  return found->get<std::string>();
}

std::vector<LabeledImage> read_isic_json(const SourceSpec& spec) {
  const auto files = list_images(spec.images);
  std::vector<fs::path> records;
  for (const auto& item : fs::recursive_directory_iterator(spec.labels)) {
    if (item.is_regular_file() && lower(item.path().extension().string()) == ".json") {
      records.push_back(item.path());
    }
  }
  std::sort(records.begin(), records.end());
  IdRegistry ids(spec.labels);
  std::vector<LabeledImage> images;
  for (const auto& record : records) {
    const auto origin = record.string();
    const nlohmann::json json = read_json_file(record);
    if (!json.is_object()) throw Error(origin + ": not an ISIC archive record (not a JSON object)");
    LabeledImage image;
    image.id = json_string(json, "name");
    if (image.id.empty()) image.id = record.stem().string();
    ids.add(image.id, origin);
    nlohmann::json clinical = nlohmann::json::object();
    if (json.contains("meta") && json["meta"].is_object() && json["meta"].contains("clinical") &&
        json["meta"]["clinical"].is_object()) {
      clinical = json["meta"]["clinical"];
    }
    std::string diagnosis = json_string(clinical, "diagnosis");
    if (diagnosis.empty()) diagnosis = json_string(json, "diagnosis");
    const std::string benign_malignant = lower(json_string(clinical, "benign_malignant"));
    if (!diagnosis.empty()) {
      const auto parsed = parse_diagnosis(diagnosis);
      if (!parsed) throw Error(origin + ": unknown diagnosis '" + diagnosis + "'");
      image.diagnosis = *parsed;
    } else if (benign_malignant == "benign") {
      image.diagnosis = Diagnosis::other_benign;
    } else if (benign_malignant == "malignant") {
      image.diagnosis = Diagnosis::other_malignant;
    } else {
      throw Error(origin + ": no meta.clinical.diagnosis, diagnosis or meta.clinical.benign_malignant");
    }
    image.lesion_id = json_string(clinical, "lesion_id");
    image.patient_id = json_string(clinical, "patient_id");
    image.origin = origin;
    fill_path(&image, files);
    images.push_back(std::move(image));
  }
  if (records.empty()) throw Error(spec.labels.string() + ": no ISIC archive records (*.json) found");
  return images;
}

std::vector<LabeledImage> read_folders(const SourceSpec& spec) {
  std::vector<fs::path> class_folders;
  for (const auto& item : fs::directory_iterator(spec.labels)) {
    if (item.is_directory()) class_folders.push_back(item.path());
  }
  std::sort(class_folders.begin(), class_folders.end());
  if (class_folders.empty()) {
    throw Error(spec.labels.string() + ": no class folders (expected DIR/<diagnosis>/<images>)");
  }
  IdRegistry ids(spec.labels);
  std::vector<LabeledImage> images;
  for (const auto& folder : class_folders) {
    const auto diagnosis = parse_diagnosis(folder.filename().string());
    if (!diagnosis) {
      throw Error(folder.string() + ": folder name '" + folder.filename().string() +
                  "' is not a known diagnosis (e.g. melanoma, nevus, seborrheic_keratosis, mel, nv, bkl)");
    }
    for (const auto& [stem, path] : list_images(folder)) {
      LabeledImage image;
      image.id = stem;
      ids.add(image.id, path.string());
      image.path = path;
      image.diagnosis = *diagnosis;
      image.origin = path.string();
      images.push_back(std::move(image));
    }
  }
  return images;
}

}  // namespace

std::map<std::string, fs::path> list_images(const fs::path& folder) {
  std::map<std::string, fs::path> by_stem;
  for (const auto& path : image_files_in(folder)) by_stem.emplace(path.stem().string(), path);
  return by_stem;
}

std::vector<std::string> source_formats() {
  return {"isic2016", "isic2017", "isic2018", "isic2019", "isic2020", "ham10000", "isic-json", "folders"};
}

SourceSpec parse_source_spec(const std::string& text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto colon = text.find(':', start);
    parts.push_back(text.substr(start, colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  const auto formats = source_formats();
  SourceSpec spec;
  spec.format = parts[0];
  const auto bad = [&](const std::string& why) {
    return OptionError("sources", "'" + text + "': " + why);
  };
  if (std::find(formats.begin(), formats.end(), spec.format) == formats.end()) {
    throw bad("unknown format '" + spec.format + "' (known: " + join_header(formats) + ")");
  }
  const bool folder_format = spec.format == "isic-json" || spec.format == "folders";
  if (folder_format) {
    if (parts.size() < 2 || parts.size() > 3 || parts[1].empty()) {
      throw bad("expected " + spec.format + ":DIR[:SPLIT]");
    }
    spec.labels = parts[1];
    spec.images = parts[1];
    if (parts.size() == 3) spec.split = parts[2];
  } else {
    if (parts.size() < 3 || parts.size() > 4 || parts[1].empty() || parts[2].empty()) {
      throw bad("expected " + spec.format + ":CSV:IMAGE_DIR[:SPLIT]");
    }
    spec.labels = parts[1];
    spec.images = parts[2];
    if (parts.size() == 4) spec.split = parts[3];
  }
  if (parts.size() == (folder_format ? 3u : 4u) && spec.split.empty()) throw bad("empty split name");
  return spec;
}

std::vector<LabeledImage> read_source(const SourceSpec& spec) {
  std::vector<LabeledImage> images;
  if (spec.format == "isic2016" || spec.format == "isic2017") {
    images = read_label_csv(spec, isic2017_format());
  } else if (spec.format == "isic2018" || spec.format == "isic2019") {
    images = read_label_csv(spec, one_hot_format());
  } else if (spec.format == "isic2020") {
    images = read_label_csv(spec, isic2020_format());
  } else if (spec.format == "ham10000") {
    images = read_label_csv(spec, ham10000_format());
  } else if (spec.format == "isic-json") {
    std::error_code ec;
    if (!fs::is_directory(spec.labels, ec)) throw Error(spec.labels.string() + ": no such folder");
    images = read_isic_json(spec);
  } else if (spec.format == "folders") {
    std::error_code ec;
    if (!fs::is_directory(spec.labels, ec)) throw Error(spec.labels.string() + ": no such folder");
    images = read_folders(spec);
  } else {
    throw Error("unknown source format '" + spec.format + "'");
  }
  for (auto& image : images) {
    image.source = spec.format;
    image.split = spec.split;
  }
  return images;
}

}  // namespace derm
