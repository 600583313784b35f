#include <Eigen/Dense>
double tads_probe() { return Eigen::Matrix2d::Identity().trace(); }
