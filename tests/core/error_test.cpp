#include "derm/core/error.hpp"

#include <gtest/gtest.h>

#include "derm/core/enum_names.hpp"

namespace derm {
namespace {

std::string as_flag(const std::string& option) { return "--" + option; }

TEST(OptionError, NamesTheOptionByItsFieldOrByWhatTheToolCallsIt) {
  const OptionError e("batch_size", "must be at least 2, got 1");
  EXPECT_EQ(e.option(), "batch_size");
  EXPECT_STREQ(e.what(), "batch_size must be at least 2, got 1");
  EXPECT_EQ(e.message(as_flag), "--batch_size must be at least 2, got 1");
  EXPECT_EQ(e.problem(), "must be at least 2, got 1");
}

TEST(OptionError, OtherOptionsInTheProblemAreNamedTheSameWay) {
  const OptionError e("head_epochs", "must be fewer than {epochs}");
  EXPECT_STREQ(e.what(), "head_epochs must be fewer than epochs");
  EXPECT_EQ(e.message(as_flag), "--head_epochs must be fewer than --epochs");
  // A problem that names the option itself is the whole message.
  const OptionError whole("models", "give either {models} or {predictions}, not both");
  EXPECT_EQ(whole.message(as_flag), "give either --models or --predictions, not both");
  // A colon follows the name directly; braces around anything but a name stay.
  const OptionError colon("sources", ": '{x y}' is not a source");
  EXPECT_EQ(colon.message(as_flag), "--sources: '{x y}' is not a source");
  EXPECT_EQ(colon.problem(), "'{x y}' is not a source");
}

enum class Colour { red, green, blue };

}  // namespace

template <>
struct EnumNames<Colour> {
  static constexpr const char* what = "colour";
  static constexpr EnumName<Colour> names[] = {{Colour::red, "red"}, {Colour::green, "green"}, {Colour::blue, "blue"}};
  static constexpr EnumName<Colour> aliases[] = {{Colour::red, "crimson"}};
};

namespace {

TEST(EnumNames, NameParseAndRefuseUnknownNamesNamingTheOption) {
  EXPECT_EQ(name_of(Colour::green), "green");
  EXPECT_EQ(enum_choices<Colour>(), "red, green or blue");
  for (const Colour c : {Colour::red, Colour::green, Colour::blue}) EXPECT_EQ(parse_enum<Colour>(name_of(c), "c"), c);
  EXPECT_EQ(parse_enum<Colour>("crimson", "c"), Colour::red);
  try {
    parse_enum<Colour>("Red", "paint");
    FAIL() << "no error for 'Red'";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.option(), "paint");
    EXPECT_EQ(e.message(as_flag), "--paint: unknown colour 'Red' (expected red, green or blue)");
  }
}

}  // namespace
}  // namespace derm
