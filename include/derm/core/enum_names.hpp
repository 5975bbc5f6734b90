#pragma once
// One table per enum of its values' names, and the conversions both ways.
// Next to an enum, specialise EnumNames with what a value is called, its
// names and, optionally, further spellings that parse to a value:
//
//   template <> struct EnumNames<ResizePolicy> {
//     static constexpr const char* what = "resize policy";
//     static constexpr EnumName<ResizePolicy> names[] = {{ResizePolicy::squash, "squash"}, ...};
//     static constexpr EnumName<ResizePolicy> aliases[] = {{ResizePolicy::center_crop, "crop"}};
//   };
//
// Header-only on purpose: the conversions are templates over the tables.
#include <iterator>
#include <string>
#include <string_view>
#include <type_traits>

#include "derm/core/error.hpp"

namespace derm {

template <class Enum>
struct EnumName {
  Enum value;
  const char* name;
};

template <class Enum>
struct EnumNames;  // specialised next to each enum

namespace detail {

template <class Enum, class = void>
struct HasAliases : std::false_type {};
template <class Enum>
struct HasAliases<Enum, std::void_t<decltype(EnumNames<Enum>::aliases)>> : std::true_type {};

}  // namespace detail

// The value's name; every value of the enum is in its table.
template <class Enum>
std::string name_of(Enum value) {
  for (const auto& entry : EnumNames<Enum>::names) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

// "a, b or c": the names, for messages.
template <class Enum>
std::string enum_choices() {
  std::string text;
  const auto& names = EnumNames<Enum>::names;
  const std::size_t count = std::size(names);
  for (std::size_t i = 0; i < count; ++i) {
    text += i == 0 ? "" : i + 1 == count ? " or " : ", ";
    text += names[i].name;
  }
  return text;
}

// The value named `text` (a name, or an alias); otherwise an OptionError naming
// `option`: "unknown resize policy 'fit' (expected squash, center_crop or pad)".
template <class Enum>
Enum parse_enum(std::string_view text, const std::string& option) {
  for (const auto& entry : EnumNames<Enum>::names) {
    if (text == entry.name) return entry.value;
  }
  if constexpr (detail::HasAliases<Enum>::value) {
    for (const auto& entry : EnumNames<Enum>::aliases) {
      if (text == entry.name) return entry.value;
    }
  }
  throw OptionError(option, std::string(": unknown ") + EnumNames<Enum>::what + " '" + std::string(text) +
                                "' (expected " + enum_choices<Enum>() + ")");
}

}  // namespace derm
