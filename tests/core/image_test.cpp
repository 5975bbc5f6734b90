#include "derm/core/image.hpp"
#include "derm/core/atomic_file.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>
#include <jpeglib.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "derm/core/error.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

using testing::TempDir;

std::string error_of(const std::filesystem::path& path) {
  try {
    read_rgb_image(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ReadRgbImage, ReturnsRgbOrderAndSize) {
  TempDir dir;
  cv::Mat rgb(40, 60, CV_8UC3, cv::Scalar(10, 20, 30));  // R=10 G=20 B=30
  testing::write_rgb(dir / "a.png", rgb);
  const cv::Mat read = read_rgb_image(dir / "a.png");
  ASSERT_EQ(read.type(), CV_8UC3);
  EXPECT_EQ(read.cols, 60);
  EXPECT_EQ(read.rows, 40);
  const auto px = read.at<cv::Vec3b>(5, 5);
  EXPECT_EQ(px[0], 10);
  EXPECT_EQ(px[2], 30);
}

TEST(ReadRgbImage, AppliesTheExifOrientation) {
  // 64x32 as stored, red left half, blue right half, EXIF orientation 6: shown
  // rotated 90 degrees clockwise, 32x64 with red on top.
  const cv::Mat read = read_rgb_image(std::string(DERM_SOURCE_DIR) + "/tests/fixtures/exif_orientation_6.jpg",
                                      ImageReadOptions{16});
  ASSERT_EQ(read.cols, 32);
  ASSERT_EQ(read.rows, 64);
  const auto top = read.at<cv::Vec3b>(8, 16);
  const auto bottom = read.at<cv::Vec3b>(56, 16);
  EXPECT_GT(top[0], 150);     // red
  EXPECT_LT(top[2], 100);
  EXPECT_GT(bottom[2], 150);  // blue
  EXPECT_LT(bottom[0], 100);
}

TEST(ReadRgbImage, SixteenBitIsScaledToEightBit) {
  TempDir dir;
  cv::Mat bgr16(40, 40, CV_16UC3, cv::Scalar(0, 257 * 100, 65535));
  ASSERT_TRUE(cv::imwrite((dir / "deep.png").string(), bgr16));
  const cv::Mat read = read_rgb_image(dir / "deep.png");
  ASSERT_EQ(read.type(), CV_8UC3);
  EXPECT_EQ(read.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 100, 0));
}

TEST(ReadRgbImage, AlphaChannelIsDropped) {
  TempDir dir;
  cv::Mat bgra(40, 40, CV_8UC4, cv::Scalar(1, 2, 3, 128));
  ASSERT_TRUE(cv::imwrite((dir / "alpha.png").string(), bgra));
  const cv::Mat read = read_rgb_image(dir / "alpha.png");
  ASSERT_EQ(read.type(), CV_8UC3);
  EXPECT_EQ(read.at<cv::Vec3b>(0, 0), cv::Vec3b(3, 2, 1));
}

TEST(ReadRgbImage, BadInputsNameTheFile) {
  TempDir dir;
  EXPECT_NE(error_of(dir / "missing.jpg").find("missing.jpg: no such file"), std::string::npos);
  std::ofstream(dir / "empty.jpg").close();
  EXPECT_NE(error_of(dir / "empty.jpg").find("empty.jpg: empty file"), std::string::npos);
  std::ofstream(dir / "text.jpg") << "this is not a JPEG\n";
  EXPECT_NE(error_of(dir / "text.jpg").find("text.jpg:"), std::string::npos);

  cv::Mat gray(40, 40, CV_8UC1, cv::Scalar(7));
  ASSERT_TRUE(cv::imwrite((dir / "gray.png").string(), gray));
  EXPECT_NE(error_of(dir / "gray.png").find("grayscale"), std::string::npos);

  cv::Mat tiny(1, 1, CV_8UC3, cv::Scalar(1, 2, 3));
  ASSERT_TRUE(cv::imwrite((dir / "tiny.png").string(), tiny));
  EXPECT_NE(error_of(dir / "tiny.png").find("too small"), std::string::npos);

  std::vector<uchar> jpeg;
  cv::imencode(".jpg", testing::synthetic_lesion(200, 200, 1), jpeg);
  std::ofstream(dir / "truncated.jpg", std::ios::binary)
      .write(reinterpret_cast<const char*>(jpeg.data()), static_cast<std::streamsize>(jpeg.size() / 3));
  EXPECT_NE(error_of(dir / "truncated.jpg").find("truncated.jpg:"), std::string::npos);

  EXPECT_NE(error_of(dir.path()).find("is a folder"), std::string::npos);
}

std::string decode_error(const std::string& bytes) {
  try {
    decode_rgb_image(bytes, "upload");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(DecodeRgbImage, DecodesBytesAsTheFileAndRefusesWhatIsNoImage) {
  TempDir dir;
  const cv::Mat lesion = testing::synthetic_lesion(120, 80, 4);
  const auto png = testing::write_rgb(dir / "lesion.png", lesion);
  EXPECT_TRUE(testing::identical_images(decode_rgb_image(read_file(png), "upload"), read_rgb_image(png)));
  EXPECT_EQ(decode_error(""), "upload: empty file");
  EXPECT_EQ(decode_error("{\"image\": 1}"), "upload: not an image in a format derm can read");
  // A PNG header claiming 60000 x 60000 pixels is refused before anything is decoded.
  std::string huge = read_file(png).substr(0, 33);
  const unsigned char side[4] = {0x00, 0x00, 0xEA, 0x60};  // 60000, big-endian
  huge.replace(16, 4, reinterpret_cast<const char*>(side), 4);
  huge.replace(20, 4, reinterpret_cast<const char*>(side), 4);
  EXPECT_EQ(decode_error(huge), "upload: image too large (60000x60000)");
  EXPECT_NE(decode_error(read_file(png).substr(0, 200)).find("upload: cannot decode image"), std::string::npos);
}

std::vector<uchar> jpeg_of(const cv::Mat& rgb, const std::vector<int>& params = {}) {
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<uchar> bytes;
  EXPECT_TRUE(cv::imencode(".jpg", bgr, bytes, params));
  return bytes;
}

std::filesystem::path write_bytes(const std::filesystem::path& path, const std::vector<uchar>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// An EXIF block (APP1) holding only an orientation tag, inserted after SOI.
std::vector<uchar> with_exif_orientation(std::vector<uchar> jpeg, int orientation, bool big_endian) {
  std::vector<uchar> tiff = big_endian ? std::vector<uchar>{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3,
                                                            0, 0, 0, 1, 0, static_cast<uchar>(orientation), 0, 0,
                                                            0, 0, 0, 0}
                                       : std::vector<uchar>{'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0,
                                                            1, 0, 0, 0, static_cast<uchar>(orientation), 0, 0, 0,
                                                            0, 0, 0, 0};
  std::vector<uchar> app1{0xFF, 0xE1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
  app1.insert(app1.end(), tiff.begin(), tiff.end());
  app1[3] = static_cast<uchar>(app1.size() - 2);
  jpeg.insert(jpeg.begin() + 2, app1.begin(), app1.end());
  return jpeg;
}

TEST(ReadRgbImage, JpegsAreDecodedPixelForPixelAsOpenCvDecodesThem) {
  TempDir dir;
  const cv::Mat lesion = testing::synthetic_lesion(301, 203, 7);  // odd sides: partial MCUs
  const std::vector<std::pair<std::string, std::vector<int>>> variants{
      {"baseline.jpg", {cv::IMWRITE_JPEG_QUALITY, 90}},
      {"progressive.jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1}},
      {"restart_intervals.jpg", {cv::IMWRITE_JPEG_RST_INTERVAL, 4}},
      // OpenCV stores full-resolution chroma when the two qualities differ.
      {"full_chroma.jpg", {cv::IMWRITE_JPEG_LUMA_QUALITY, 90, cv::IMWRITE_JPEG_CHROMA_QUALITY, 80}}};
  for (const auto& [name, params] : variants) {
    const auto path = write_bytes(dir / name, jpeg_of(lesion, params));
    EXPECT_TRUE(testing::identical_images(read_rgb_image(path), testing::read_with_opencv_rgb(path))) << name;
  }
  for (const bool big_endian : {false, true}) {
    for (int orientation = 1; orientation <= 8; ++orientation) {
      const std::string name = "exif_" + std::to_string(orientation) + (big_endian ? "_mm" : "_ii") + ".jpg";
      const auto path = write_bytes(dir / name, with_exif_orientation(jpeg_of(lesion), orientation, big_endian));
      const cv::Mat read = read_rgb_image(path);
      EXPECT_TRUE(testing::identical_images(read, testing::read_with_opencv_rgb(path))) << name;
      EXPECT_EQ(read.cols, orientation >= 5 ? 203 : 301) << name;
    }
  }
  // An EXIF block too short for its first entry: no orientation, nothing read past its end.
  std::vector<uchar> short_exif = jpeg_of(lesion);
  const std::vector<uchar> short_app1{0xFF, 0xE1, 0, 16, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 0, 0, 0, 0};
  short_exif.insert(short_exif.begin() + 2, short_app1.begin(), short_app1.end());
  const auto short_path = write_bytes(dir / "short_exif.jpg", short_exif);
  EXPECT_TRUE(testing::identical_images(read_rgb_image(short_path), testing::read_with_opencv_rgb(short_path)));
  // An XMP block before the EXIF one: OpenCV reads the first APP1 only, so no rotation.
  std::vector<uchar> xmp_first = with_exif_orientation(jpeg_of(lesion), 6, false);
  const std::string xmp = "http://ns.adobe.com/xap/1.0/";
  std::vector<uchar> app1{0xFF, 0xE1, 0, static_cast<uchar>(2 + xmp.size() + 1)};
  app1.insert(app1.end(), xmp.begin(), xmp.end());
  app1.push_back(0);
  xmp_first.insert(xmp_first.begin() + 2, app1.begin(), app1.end());
  const auto path = write_bytes(dir / "xmp_first.jpg", xmp_first);
  const cv::Mat read = read_rgb_image(path);
  EXPECT_TRUE(testing::identical_images(read, testing::read_with_opencv_rgb(path)));
  EXPECT_EQ(read.cols, 301);
}

// A JPEG written by libjpeg itself, for what OpenCV does not write: four
// channels (CMYK), one scan per component (non-interleaved), arithmetic coding.
std::vector<uchar> libjpeg_encoded(const cv::Mat& pixels, bool cmyk, bool one_scan_per_component,
                                   bool arithmetic = false) {
  jpeg_compress_struct info{};
  jpeg_error_mgr errors{};
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = static_cast<JDIMENSION>(pixels.cols);
  info.image_height = static_cast<JDIMENSION>(pixels.rows);
  info.input_components = pixels.channels();
  info.in_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_set_defaults(&info);
  info.arith_code = arithmetic ? TRUE : FALSE;
  jpeg_scan_info scans[3] = {};
  if (one_scan_per_component) {
    for (int c = 0; c < 3; ++c) {
      scans[c].comps_in_scan = 1;
      scans[c].component_index[0] = c;
      scans[c].Se = 63;
    }
    info.scan_info = scans;
    info.num_scans = 3;
  }
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<uchar*>(pixels.ptr(static_cast<int>(info.next_scanline)));
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  std::vector<uchar> bytes(buffer, buffer + size);
  std::free(buffer);
  jpeg_destroy_compress(&info);
  return bytes;
}

// Where each scan (SOS marker) starts.
std::vector<std::size_t> scan_starts(const std::vector<uchar>& jpeg) {
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i + 1 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xDA) starts.push_back(i);
  }
  return starts;
}

TEST(ReadRgbImage, CmykJpegsAreConvertedAsOpenCvConvertsThem) {
  TempDir dir;
  const cv::Mat lesion = testing::synthetic_lesion(97, 61, 9);
  cv::Mat cmyk(lesion.rows, lesion.cols, CV_8UC4);
  for (int y = 0; y < lesion.rows; ++y) {
    for (int x = 0; x < lesion.cols; ++x) {
      const auto rgb = lesion.at<cv::Vec3b>(y, x);
      const uchar k = static_cast<uchar>(std::max({rgb[0], rgb[1], rgb[2]}));
      cmyk.at<cv::Vec4b>(y, x) = {rgb[0], rgb[1], rgb[2], k};
    }
  }
  const auto path = write_bytes(dir / "cmyk.jpg", libjpeg_encoded(cmyk, /*cmyk=*/true, false));
  const cv::Mat read = read_rgb_image(path);
  EXPECT_EQ(read.type(), CV_8UC3);
  EXPECT_TRUE(testing::identical_images(read, testing::read_with_opencv_rgb(path)));
}

TEST(ReadRgbImage, DamagedJpegDataIsAnErrorNotAGreyPatch) {
  TempDir dir;
  const std::vector<uchar> jpeg = jpeg_of(testing::synthetic_lesion(256, 256, 8), {cv::IMWRITE_JPEG_QUALITY, 95});
  std::vector<uchar> cut(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(jpeg.size() * 6 / 10));
  write_bytes(dir / "cut.jpg", cut);
  cut.insert(cut.end(), {0xFF, 0xD9});  // still ends with an end-of-image marker
  write_bytes(dir / "cut_with_end_marker.jpg", cut);
  write_bytes(dir / "no_end_marker.jpg", std::vector<uchar>(jpeg.begin(), jpeg.end() - 2));
  std::vector<uchar> restart_in_the_middle = jpeg;  // a marker where entropy-coded data should be
  restart_in_the_middle[jpeg.size() / 2] = 0xFF;
  restart_in_the_middle[jpeg.size() / 2 + 1] = 0xD3;
  write_bytes(dir / "marker_in_data.jpg", restart_in_the_middle);
  // Cut at a scan boundary, with an end-of-image marker: nothing for libjpeg to
  // warn about, but a progression left unfinished, or a component left out.
  std::vector<uchar> progressive = jpeg_of(testing::synthetic_lesion(96, 80, 3), {cv::IMWRITE_JPEG_PROGRESSIVE, 1});
  const auto progressive_scans = scan_starts(progressive);
  ASSERT_GE(progressive_scans.size(), 3u);
  std::vector<uchar> early(progressive.begin(), progressive.begin() + static_cast<std::ptrdiff_t>(progressive_scans[2]));
  early.insert(early.end(), {0xFF, 0xD9});
  write_bytes(dir / "progression_cut.jpg", early);
  const std::vector<uchar> by_component =
      libjpeg_encoded(testing::synthetic_lesion(96, 80, 4), /*cmyk=*/false, /*one_scan_per_component=*/true);
  const auto component_scans = scan_starts(by_component);
  ASSERT_EQ(component_scans.size(), 3u);
  write_bytes(dir / "one_scan_per_component.jpg", by_component);
  std::vector<uchar> components_cut(by_component.begin(),
                                    by_component.begin() + static_cast<std::ptrdiff_t>(component_scans[1]));
  components_cut.insert(components_cut.end(), {0xFF, 0xD9});
  write_bytes(dir / "component_missing.jpg", components_cut);
  // The last scan repeated: more scans than any encoder writes.
  std::vector<uchar> flood(progressive.begin(), progressive.end() - 2);
  const std::vector<uchar> last_scan(progressive.begin() + static_cast<std::ptrdiff_t>(progressive_scans.back()),
                                     progressive.end() - 2);
  for (int i = 0; i < 600; ++i) flood.insert(flood.end(), last_scan.begin(), last_scan.end());
  flood.insert(flood.end(), {0xFF, 0xD9});
  write_bytes(dir / "scan_flood.jpg", flood);
  write_bytes(dir / "arithmetic.jpg", libjpeg_encoded(testing::synthetic_lesion(96, 80, 5), false, false, true));
  EXPECT_NE(error_of(dir / "arithmetic.jpg").find("arithmetic.jpg: arithmetic-coded JPEG"), std::string::npos);
  std::vector<uchar> no_marker_after_start = jpeg;
  no_marker_after_start.insert(no_marker_after_start.begin() + 2, 0x00);
  write_bytes(dir / "no_marker_after_start.jpg", no_marker_after_start);

  EXPECT_TRUE(testing::identical_images(read_rgb_image(dir / "one_scan_per_component.jpg"),
                                        testing::read_with_opencv_rgb(dir / "one_scan_per_component.jpg")));
  for (const std::string name : {"cut.jpg", "cut_with_end_marker.jpg", "no_end_marker.jpg", "marker_in_data.jpg",
                                 "progression_cut.jpg", "component_missing.jpg", "scan_flood.jpg",
                                 "no_marker_after_start.jpg"}) {
    const std::string error = error_of(dir / name);
    EXPECT_NE(error.find(name + ": corrupt "), std::string::npos) << name << " -> " << error;
  }
}

// A small file whose header claims `side` x `side` pixels: the JPEG's frame
// header or the PNG's IHDR patched (the PNG's checksum no longer matches).
std::filesystem::path write_claiming(const std::filesystem::path& path, int side) {
  std::vector<uchar> bytes;
  EXPECT_TRUE(cv::imencode(path.extension().string(), testing::synthetic_lesion(64, 64, 2), bytes));
  const auto put16 = [&](std::size_t at) {
    bytes[at] = static_cast<uchar>(side >> 8);
    bytes[at + 1] = static_cast<uchar>(side & 0xFF);
  };
  if (path.extension() == ".png") {
    put16(18);  // IHDR width (big-endian 32 bits, high half zero)
    put16(22);  // IHDR height
  } else {
    std::size_t sof = 2;
    while (bytes[sof + 1] != 0xC0) sof += 2 + (bytes[sof + 2] << 8 | bytes[sof + 3]);
    put16(sof + 5);  // height
    put16(sof + 7);  // width
  }
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                             static_cast<std::streamsize>(bytes.size()));
  return path;
}

TEST(ReadRgbImage, AHugeDeclaredSizeIsRefusedBeforeDecoding) {
  TempDir dir;
  // 60000 x 60000 is also over OpenCV's own limit, which would fail the decode with another message.
  for (const char* name : {"huge.jpg", "huge.png"}) {
    const std::string error = error_of(write_claiming(dir / name, 60000));
    EXPECT_NE(error.find(std::string(name) + ": image too large (60000x60000)"), std::string::npos) << error;
  }
  // The headers are read right: an image of a permitted size still decodes.
  ImageReadOptions options;
  options.max_pixels = 64 * 64;
  EXPECT_EQ(read_rgb_image(write_claiming(dir / "fine.jpg", 64), options).size(), cv::Size(64, 64));
  options.max_pixels = 64 * 64 - 1;
  EXPECT_THROW(read_rgb_image(write_claiming(dir / "over.png", 64), options), Error);
}

TEST(ImageFilesIn, ListsImagesRecursivelyAndBrokenLinksToo) {
  TempDir dir;
  const cv::Mat rgb(8, 8, CV_8UC3, cv::Scalar(1, 2, 3));
  std::filesystem::create_directories(dir / "sub" / "folder.jpg");
  testing::write_rgb(dir / "b.PNG", rgb);
  testing::write_rgb(dir / "sub" / "a.jpg", rgb);
  std::ofstream(dir / "notes.txt") << "not an image";
  std::filesystem::create_symlink(dir / "missing.jpg", dir / "broken.jpg");
  const std::vector<std::filesystem::path> expected{dir / "b.PNG", dir / "broken.jpg", dir / "sub" / "a.jpg"};
  EXPECT_EQ(image_files_in(dir.path()), expected);
  EXPECT_NE(error_of(dir / "broken.jpg").find("broken.jpg"), std::string::npos);
  EXPECT_THROW(image_files_in(dir / "nope"), Error);
}

TEST(ResizeToSquare, PoliciesGiveTheRequestedSize) {
  const cv::Mat wide(100, 200, CV_8UC3, cv::Scalar(50, 60, 70));
  for (auto policy : {ResizePolicy::squash, ResizePolicy::center_crop, ResizePolicy::pad}) {
    const cv::Mat out = resize_to_square(wide, 64, policy);
    EXPECT_EQ(out.cols, 64) << name_of(policy);
    EXPECT_EQ(out.rows, 64) << name_of(policy);
  }
  const cv::Mat padded = resize_to_square(wide, 64, ResizePolicy::pad);
  EXPECT_EQ(padded.at<cv::Vec3b>(0, 32), cv::Vec3b(0, 0, 0));      // top band is padding
  EXPECT_EQ(padded.at<cv::Vec3b>(32, 32), cv::Vec3b(50, 60, 70));  // centre is image
}

// A map that is 1 over the image's left half, through each policy's square and back.
TEST(SquareToImage, MapsTheSquareBackOverTheImage) {
  const cv::Size image(200, 100);
  cv::Mat left(image, CV_32F, cv::Scalar(0));
  left(cv::Rect(0, 0, 100, 100)).setTo(1.0f);
  for (auto policy : {ResizePolicy::squash, ResizePolicy::pad, ResizePolicy::center_crop}) {
    cv::Mat square;
    if (policy == ResizePolicy::center_crop) {
      // The crop shows the image's middle 100 x 100: its left half is the square's.
      square = cv::Mat(64, 64, CV_32F, cv::Scalar(0));
      square(cv::Rect(0, 0, 32, 64)).setTo(1.0f);
    } else {
      square = resize_to_square(left, 64, policy);
    }
    const cv::Mat back = square_to_image(square, image, policy);
    ASSERT_EQ(back.size(), image) << name_of(policy);
    ASSERT_EQ(back.type(), CV_32F) << name_of(policy);
    if (policy == ResizePolicy::center_crop) {
      EXPECT_EQ(back.at<float>(50, 20), 0.0f) << "cut off by the crop";
      EXPECT_NEAR(back.at<float>(50, 70), 1.0f, 1e-6) << "the crop's left half";
      EXPECT_NEAR(back.at<float>(50, 130), 0.0f, 1e-6) << "the crop's right half";
    } else {
      EXPECT_NEAR(back.at<float>(50, 20), 1.0f, 1e-6) << name_of(policy);
      EXPECT_NEAR(back.at<float>(50, 180), 0.0f, 1e-6) << name_of(policy);
    }
  }
}

TEST(ResizePolicyNames, RoundTripAcceptAliasesAndRejectUnknown) {
  for (auto policy : {ResizePolicy::squash, ResizePolicy::center_crop, ResizePolicy::pad}) {
    EXPECT_EQ(parse_enum<ResizePolicy>(name_of(policy), "resize_policy"), policy);
  }
  EXPECT_EQ(name_of(ResizePolicy::center_crop), "center_crop");
  EXPECT_EQ(parse_enum<ResizePolicy>("crop", "resize_policy"), ResizePolicy::center_crop);
  EXPECT_EQ(parse_enum<ResizePolicy>("center-crop", "resize_policy"), ResizePolicy::center_crop);
  try {
    parse_enum<ResizePolicy>("stretchy", "resize_policy");
    FAIL() << "no error for an unknown policy";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.option(), "resize_policy");
    EXPECT_STREQ(e.what(), "resize_policy: unknown resize policy 'stretchy' (expected squash, center_crop or pad)");
    EXPECT_EQ(e.problem(), "unknown resize policy 'stretchy' (expected squash, center_crop or pad)");
  }
}

}  // namespace
}  // namespace derm
