#!/bin/bash
# devstack/plugin.sh: the drbd plugin (devstack/README.md). devstack
# sources it for each phase as "plugin.sh MODE [PHASE]".

source $DRBD_DIR/devstack/lib/drbd

if [[ "$1" == "stack" && "$2" == "pre-install" ]]; then
    echo_summary "drbd: checking DRBD_DEVICE, runtime packages"
    drbd_check_device
    install_package drbd-utils lvm2 thin-provisioning-tools dbus
elif [[ "$1" == "stack" && "$2" == "install" ]]; then
    echo_summary "drbd: installing and starting drbdd"
    install_drbd
    configure_drbd
    start_drbd
elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
    echo_summary "drbd: registering node $DRBD_NODE_NAME"
    drbd_register_node
    if drbd_storage_node; then
        drbd_create_storage
    fi
elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
    drbd_ctl node list
    drbd_ctl storage-pool list
elif [[ "$1" == "stack" && "$2" == "test-config" ]]; then
    if is_service_enabled tempest; then
        configure_tempest_drbd
    fi
fi

if [[ "$1" == "unstack" ]]; then
    drbd_delete_objects
    stop_drbd
    drbd_remove_storage
fi

if [[ "$1" == "clean" ]]; then
    drbd_clean_store
    uninstall_drbd
    sudo gpasswd -d "$STACK_USER" drbdd || true
fi
