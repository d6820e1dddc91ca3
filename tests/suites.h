/* Every suite's registration function; tests/runner.c runs them in order.
 * Add a line here when adding a test file. */
#ifndef TESTS_SUITES_H
#define TESTS_SUITES_H

#define TH_SUITES(X)                                                        \
    X(register_engine_tests)                                                \
    X(register_util_tests)                                                  \
    X(register_nicmodel_tests)                                              \
    X(register_fabric_tests)                                                \
    X(register_faults_tests)                                                \
    X(register_flow_tests)                                                  \
    X(register_faults_cli_tests)                                            \
    X(register_vmmc_tests)                                                  \
    X(register_vmmc2_tests)                                                 \
    X(register_node_tests)                                                  \
    X(register_reliability_tests)                                           \
    X(register_sweep_tests)                                                 \
    X(register_exec_tests)                                                  \
    X(register_timeline_tests)                                              \
    X(register_baseline_tests)                                              \
    X(register_workload_tests)                                              \
    X(register_speed_tests)                                                 \
    X(register_cli_tests)                                                   \
    X(register_profile_tests)                                               \
    X(register_fuzz_regress_tests)                                          \
    X(register_msg_tests)                                                   \
    X(register_rpc_tests)                                                   \
    X(register_replay_tests)                                                \
    X(register_sock_tests)                                                  \
    X(register_svm_tests)                                                   \
    X(register_emu_tests)                                                  \
    X(register_conf_sim_tests)                                             \
    X(register_conf_emu_tests)                                             \
    X(register_conf_libs_sim_tests)                                        \
    X(register_conf_libs_emu_tests)

#define TH_DECLARE_(fn) void fn(void);
TH_SUITES(TH_DECLARE_)
#undef TH_DECLARE_

#endif
