// SPDX-License-Identifier: GPL-2.0-only
/* Facts for the vmbus-proto crate: the VMBus channel message structs, packet and ring
 * layouts, versions, connection ids, message and packet types, offer flags and device class
 * GUIDs of include/linux/hyperv.h and drivers/hv/hyperv_vmbus.h, plus VMBUS_PKT_TRAILER from
 * drivers/hv/ring_buffer.c (reached by including the .c file; only assembly is produced).
 * Compiled by scripts/layout; checked by vsc/vmbus/tests/layout.rs. */
#include <linux/kbuild.h>
#include <linux/hyperv.h>
#include <../drivers/hv/ring_buffer.c>

#define SIZE(s) DEFINE(s##_size, sizeof(struct s))
#define OFF(s, m) OFFSET(s##_##m, s, m)
/* A GUID as two little-endian 64-bit halves of its 16 wire bytes. */
#define GUIDB(g, i) ((u64)(g).b[i])
#define GUID_HALF(g, o) (GUIDB(g, o) | GUIDB(g, o + 1) << 8 | GUIDB(g, o + 2) << 16 | \
	GUIDB(g, o + 3) << 24 | GUIDB(g, o + 4) << 32 | GUIDB(g, o + 5) << 40 | \
	GUIDB(g, o + 6) << 48 | GUIDB(g, o + 7) << 56)
#define GUID_FACT(name) do { \
	const struct hv_vmbus_device_id id = { name##_GUID }; \
	DEFINE(name##_GUID_LO, GUID_HALF(id.guid, 0)); \
	DEFINE(name##_GUID_HI, GUID_HALF(id.guid, 8)); \
} while (0)

void pvg_facts(void);
void pvg_facts(void)
{
	/* --- sizes and offsets --- */
	SIZE(vmbus_channel_message_header);
	OFF(vmbus_channel_message_header, msgtype);
	OFF(vmbus_channel_message_header, padding);
	SIZE(vmbus_channel_offer);
	OFF(vmbus_channel_offer, if_type);
	OFF(vmbus_channel_offer, if_instance);
	OFF(vmbus_channel_offer, reserved1);
	OFF(vmbus_channel_offer, reserved2);
	OFF(vmbus_channel_offer, chn_flags);
	OFF(vmbus_channel_offer, mmio_megabytes);
	OFF(vmbus_channel_offer, u);
	OFF(vmbus_channel_offer, sub_channel_index);
	OFF(vmbus_channel_offer, reserved3);
	SIZE(vmbus_channel_offer_channel);
	OFF(vmbus_channel_offer_channel, header);
	OFF(vmbus_channel_offer_channel, offer);
	OFF(vmbus_channel_offer_channel, child_relid);
	OFF(vmbus_channel_offer_channel, monitorid);
	OFF(vmbus_channel_offer_channel, connection_id);
	SIZE(vmbus_channel_rescind_offer);
	OFF(vmbus_channel_rescind_offer, header);
	OFF(vmbus_channel_rescind_offer, child_relid);
	SIZE(vmbus_channel_open_channel);
	OFF(vmbus_channel_open_channel, header);
	OFF(vmbus_channel_open_channel, child_relid);
	OFF(vmbus_channel_open_channel, openid);
	OFF(vmbus_channel_open_channel, ringbuffer_gpadlhandle);
	OFF(vmbus_channel_open_channel, target_vp);
	OFF(vmbus_channel_open_channel, downstream_ringbuffer_pageoffset);
	OFF(vmbus_channel_open_channel, userdata);
	SIZE(vmbus_channel_open_result);
	OFF(vmbus_channel_open_result, header);
	OFF(vmbus_channel_open_result, child_relid);
	OFF(vmbus_channel_open_result, openid);
	OFF(vmbus_channel_open_result, status);
	SIZE(vmbus_channel_close_channel);
	OFF(vmbus_channel_close_channel, header);
	OFF(vmbus_channel_close_channel, child_relid);
	SIZE(vmbus_channel_gpadl_header);
	OFF(vmbus_channel_gpadl_header, header);
	OFF(vmbus_channel_gpadl_header, child_relid);
	OFF(vmbus_channel_gpadl_header, gpadl);
	OFF(vmbus_channel_gpadl_header, range_buflen);
	OFF(vmbus_channel_gpadl_header, rangecount);
	OFF(vmbus_channel_gpadl_header, range);
	SIZE(vmbus_channel_gpadl_body);
	OFF(vmbus_channel_gpadl_body, header);
	OFF(vmbus_channel_gpadl_body, msgnumber);
	OFF(vmbus_channel_gpadl_body, gpadl);
	OFF(vmbus_channel_gpadl_body, pfn);
	SIZE(vmbus_channel_gpadl_created);
	OFF(vmbus_channel_gpadl_created, header);
	OFF(vmbus_channel_gpadl_created, child_relid);
	OFF(vmbus_channel_gpadl_created, gpadl);
	OFF(vmbus_channel_gpadl_created, creation_status);
	SIZE(vmbus_channel_gpadl_teardown);
	OFF(vmbus_channel_gpadl_teardown, header);
	OFF(vmbus_channel_gpadl_teardown, child_relid);
	OFF(vmbus_channel_gpadl_teardown, gpadl);
	SIZE(vmbus_channel_gpadl_torndown);
	OFF(vmbus_channel_gpadl_torndown, header);
	OFF(vmbus_channel_gpadl_torndown, gpadl);
	SIZE(vmbus_channel_relid_released);
	OFF(vmbus_channel_relid_released, header);
	OFF(vmbus_channel_relid_released, child_relid);
	SIZE(vmbus_channel_initiate_contact);
	OFF(vmbus_channel_initiate_contact, header);
	OFF(vmbus_channel_initiate_contact, vmbus_version_requested);
	OFF(vmbus_channel_initiate_contact, target_vcpu);
	OFF(vmbus_channel_initiate_contact, interrupt_page);
	OFF(vmbus_channel_initiate_contact, msg_sint);
	OFF(vmbus_channel_initiate_contact, msg_vtl);
	OFF(vmbus_channel_initiate_contact, feature_flags);
	OFF(vmbus_channel_initiate_contact, monitor_page1);
	OFF(vmbus_channel_initiate_contact, monitor_page2);
	SIZE(vmbus_channel_version_response);
	OFF(vmbus_channel_version_response, header);
	OFF(vmbus_channel_version_response, version_supported);
	OFF(vmbus_channel_version_response, connection_state);
	OFF(vmbus_channel_version_response, padding);
	OFF(vmbus_channel_version_response, msg_conn_id);
	SIZE(vmbus_channel_tl_connect_request);
	OFF(vmbus_channel_tl_connect_request, header);
	OFF(vmbus_channel_tl_connect_request, guest_endpoint_id);
	OFF(vmbus_channel_tl_connect_request, host_service_id);
	SIZE(vmbus_channel_modifychannel);
	OFF(vmbus_channel_modifychannel, header);
	OFF(vmbus_channel_modifychannel, child_relid);
	OFF(vmbus_channel_modifychannel, target_vp);
	SIZE(vmbus_channel_modifychannel_response);
	OFF(vmbus_channel_modifychannel_response, header);
	OFF(vmbus_channel_modifychannel_response, child_relid);
	OFF(vmbus_channel_modifychannel_response, status);
	SIZE(hv_ring_buffer);
	OFF(hv_ring_buffer, write_index);
	OFF(hv_ring_buffer, read_index);
	OFF(hv_ring_buffer, interrupt_mask);
	OFF(hv_ring_buffer, pending_send_sz);
	OFF(hv_ring_buffer, reserved1);
	OFF(hv_ring_buffer, feature_bits);
	OFF(hv_ring_buffer, reserved2);
	OFF(hv_ring_buffer, buffer);
	SIZE(vmpacket_descriptor);
	OFF(vmpacket_descriptor, type);
	OFF(vmpacket_descriptor, offset8);
	OFF(vmpacket_descriptor, len8);
	OFF(vmpacket_descriptor, flags);
	OFF(vmpacket_descriptor, trans_id);
	SIZE(vmpacket_header);
	OFF(vmpacket_header, prev_pkt_start_offset);
	OFF(vmpacket_header, descriptor);
	SIZE(vmtransfer_page_range);
	OFF(vmtransfer_page_range, byte_count);
	OFF(vmtransfer_page_range, byte_offset);
	SIZE(vmtransfer_page_packet_header);
	OFF(vmtransfer_page_packet_header, d);
	OFF(vmtransfer_page_packet_header, xfer_pageset_id);
	OFF(vmtransfer_page_packet_header, sender_owns_set);
	OFF(vmtransfer_page_packet_header, reserved);
	OFF(vmtransfer_page_packet_header, range_cnt);
	OFF(vmtransfer_page_packet_header, ranges);
	SIZE(gpa_range);
	OFF(gpa_range, byte_count);
	OFF(gpa_range, byte_offset);
	OFF(gpa_range, pfn_array);
	SIZE(vmdata_gpa_direct);
	OFF(vmdata_gpa_direct, d);
	OFF(vmdata_gpa_direct, reserved);
	OFF(vmdata_gpa_direct, range_cnt);
	OFF(vmdata_gpa_direct, range);
	SIZE(hv_page_buffer);
	OFF(hv_page_buffer, len);
	OFF(hv_page_buffer, offset);
	OFF(hv_page_buffer, pfn);
	SIZE(hv_multipage_buffer);
	OFF(hv_multipage_buffer, len);
	OFF(hv_multipage_buffer, offset);
	OFF(hv_multipage_buffer, pfn_array);
	SIZE(hv_mpb_array);
	OFF(hv_mpb_array, len);
	OFF(hv_mpb_array, offset);
	OFF(hv_mpb_array, pfn_array);
	SIZE(vmbus_packet_mpb_array);
	OFF(vmbus_packet_mpb_array, type);
	OFF(vmbus_packet_mpb_array, dataoffset8);
	OFF(vmbus_packet_mpb_array, length8);
	OFF(vmbus_packet_mpb_array, flags);
	OFF(vmbus_packet_mpb_array, transactionid);
	OFF(vmbus_packet_mpb_array, reserved);
	OFF(vmbus_packet_mpb_array, rangecount);
	OFF(vmbus_packet_mpb_array, range);
	SIZE(vmbus_channel_packet_multipage_buffer);
	OFF(vmbus_channel_packet_multipage_buffer, type);
	OFF(vmbus_channel_packet_multipage_buffer, dataoffset8);
	OFF(vmbus_channel_packet_multipage_buffer, length8);
	OFF(vmbus_channel_packet_multipage_buffer, flags);
	OFF(vmbus_channel_packet_multipage_buffer, transactionid);
	OFF(vmbus_channel_packet_multipage_buffer, reserved);
	OFF(vmbus_channel_packet_multipage_buffer, rangecount);
	OFF(vmbus_channel_packet_multipage_buffer, range);
	SIZE(vmbus_channel_packet_page_buffer);
	OFF(vmbus_channel_packet_page_buffer, type);
	OFF(vmbus_channel_packet_page_buffer, dataoffset8);
	OFF(vmbus_channel_packet_page_buffer, length8);
	OFF(vmbus_channel_packet_page_buffer, flags);
	OFF(vmbus_channel_packet_page_buffer, transactionid);
	OFF(vmbus_channel_packet_page_buffer, reserved);
	OFF(vmbus_channel_packet_page_buffer, rangecount);
	OFF(vmbus_channel_packet_page_buffer, range);
	DEFINE(guid_t_size, sizeof(guid_t));
	DEFINE(VMBUS_RING_SIZE_4K, VMBUS_RING_SIZE(4096));
	DEFINE(VMBUS_RING_SIZE_24K, VMBUS_RING_SIZE(6 * 4096));
	DEFINE(VMBUS_RING_SIZE_32K, VMBUS_RING_SIZE(8 * 4096));
	DEFINE(VMBUS_RING_SIZE_256K, VMBUS_RING_SIZE(256 * 1024));
	DEFINE(VMBUS_RING_SIZE_100000, VMBUS_RING_SIZE(100000));

	/* --- constants --- */
	DEFINE(VERSION_WS2008, VERSION_WS2008);
	DEFINE(VERSION_WIN7, VERSION_WIN7);
	DEFINE(VERSION_WIN8, VERSION_WIN8);
	DEFINE(VERSION_WIN8_1, VERSION_WIN8_1);
	DEFINE(VERSION_WIN10, VERSION_WIN10);
	DEFINE(VERSION_WIN10_V4_1, VERSION_WIN10_V4_1);
	DEFINE(VERSION_WIN10_V5, VERSION_WIN10_V5);
	DEFINE(VERSION_WIN10_V5_1, VERSION_WIN10_V5_1);
	DEFINE(VERSION_WIN10_V5_2, VERSION_WIN10_V5_2);
	DEFINE(VERSION_WIN10_V5_3, VERSION_WIN10_V5_3);
	DEFINE(VERSION_WIN10_V6_0, VERSION_WIN10_V6_0);
	DEFINE(VMBUS_MESSAGE_CONNECTION_ID, VMBUS_MESSAGE_CONNECTION_ID);
	DEFINE(VMBUS_MESSAGE_CONNECTION_ID_4, VMBUS_MESSAGE_CONNECTION_ID_4);
	DEFINE(VMBUS_MESSAGE_CONNECTION_ID_REDIRECT, VMBUS_MESSAGE_CONNECTION_ID_REDIRECT);
	DEFINE(VMBUS_MESSAGE_PORT_ID, VMBUS_MESSAGE_PORT_ID);
	DEFINE(VMBUS_EVENT_CONNECTION_ID, VMBUS_EVENT_CONNECTION_ID);
	DEFINE(VMBUS_EVENT_PORT_ID, VMBUS_EVENT_PORT_ID);
	DEFINE(VMBUS_MONITOR_CONNECTION_ID, VMBUS_MONITOR_CONNECTION_ID);
	DEFINE(VMBUS_MONITOR_PORT_ID, VMBUS_MONITOR_PORT_ID);
	DEFINE(VMBUS_MESSAGE_SINT, VMBUS_MESSAGE_SINT);
	DEFINE(VMBUS_CONNECT_CPU, VMBUS_CONNECT_CPU);
	DEFINE(CHANNELMSG_INVALID, CHANNELMSG_INVALID);
	DEFINE(CHANNELMSG_OFFERCHANNEL, CHANNELMSG_OFFERCHANNEL);
	DEFINE(CHANNELMSG_RESCIND_CHANNELOFFER, CHANNELMSG_RESCIND_CHANNELOFFER);
	DEFINE(CHANNELMSG_REQUESTOFFERS, CHANNELMSG_REQUESTOFFERS);
	DEFINE(CHANNELMSG_ALLOFFERS_DELIVERED, CHANNELMSG_ALLOFFERS_DELIVERED);
	DEFINE(CHANNELMSG_OPENCHANNEL, CHANNELMSG_OPENCHANNEL);
	DEFINE(CHANNELMSG_OPENCHANNEL_RESULT, CHANNELMSG_OPENCHANNEL_RESULT);
	DEFINE(CHANNELMSG_CLOSECHANNEL, CHANNELMSG_CLOSECHANNEL);
	DEFINE(CHANNELMSG_GPADL_HEADER, CHANNELMSG_GPADL_HEADER);
	DEFINE(CHANNELMSG_GPADL_BODY, CHANNELMSG_GPADL_BODY);
	DEFINE(CHANNELMSG_GPADL_CREATED, CHANNELMSG_GPADL_CREATED);
	DEFINE(CHANNELMSG_GPADL_TEARDOWN, CHANNELMSG_GPADL_TEARDOWN);
	DEFINE(CHANNELMSG_GPADL_TORNDOWN, CHANNELMSG_GPADL_TORNDOWN);
	DEFINE(CHANNELMSG_RELID_RELEASED, CHANNELMSG_RELID_RELEASED);
	DEFINE(CHANNELMSG_INITIATE_CONTACT, CHANNELMSG_INITIATE_CONTACT);
	DEFINE(CHANNELMSG_VERSION_RESPONSE, CHANNELMSG_VERSION_RESPONSE);
	DEFINE(CHANNELMSG_UNLOAD, CHANNELMSG_UNLOAD);
	DEFINE(CHANNELMSG_UNLOAD_RESPONSE, CHANNELMSG_UNLOAD_RESPONSE);
	DEFINE(CHANNELMSG_18, CHANNELMSG_18);
	DEFINE(CHANNELMSG_19, CHANNELMSG_19);
	DEFINE(CHANNELMSG_20, CHANNELMSG_20);
	DEFINE(CHANNELMSG_TL_CONNECT_REQUEST, CHANNELMSG_TL_CONNECT_REQUEST);
	DEFINE(CHANNELMSG_MODIFYCHANNEL, CHANNELMSG_MODIFYCHANNEL);
	DEFINE(CHANNELMSG_TL_CONNECT_RESULT, CHANNELMSG_TL_CONNECT_RESULT);
	DEFINE(CHANNELMSG_MODIFYCHANNEL_RESPONSE, CHANNELMSG_MODIFYCHANNEL_RESPONSE);
	DEFINE(CHANNELMSG_COUNT, CHANNELMSG_COUNT);
	DEFINE(INVALID_RELID, INVALID_RELID);
	DEFINE(MAX_USER_DEFINED_BYTES, MAX_USER_DEFINED_BYTES);
	DEFINE(MAX_PIPE_USER_DEFINED_BYTES, MAX_PIPE_USER_DEFINED_BYTES);
	DEFINE(MAX_PIPE_DATA_PAYLOAD, MAX_PIPE_DATA_PAYLOAD);
	DEFINE(VMBUS_PIPE_TYPE_BYTE, VMBUS_PIPE_TYPE_BYTE);
	DEFINE(VMBUS_PIPE_TYPE_MESSAGE, VMBUS_PIPE_TYPE_MESSAGE);
	DEFINE(VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE, VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE);
	DEFINE(VMBUS_CHANNEL_CONFIDENTIAL_RING_BUFFER, VMBUS_CHANNEL_CONFIDENTIAL_RING_BUFFER);
	DEFINE(VMBUS_CHANNEL_CONFIDENTIAL_EXTERNAL_MEMORY, VMBUS_CHANNEL_CONFIDENTIAL_EXTERNAL_MEMORY);
	DEFINE(VMBUS_CHANNEL_NAMED_PIPE_MODE, VMBUS_CHANNEL_NAMED_PIPE_MODE);
	DEFINE(VMBUS_CHANNEL_LOOPBACK_OFFER, VMBUS_CHANNEL_LOOPBACK_OFFER);
	DEFINE(VMBUS_CHANNEL_PARENT_OFFER, VMBUS_CHANNEL_PARENT_OFFER);
	DEFINE(VMBUS_CHANNEL_REQUEST_MONITORED_NOTIFICATION, VMBUS_CHANNEL_REQUEST_MONITORED_NOTIFICATION);
	DEFINE(VMBUS_CHANNEL_TLNPI_PROVIDER_OFFER, VMBUS_CHANNEL_TLNPI_PROVIDER_OFFER);
	DEFINE(GPADL_TYPE_RING_BUFFER, GPADL_TYPE_RING_BUFFER);
	DEFINE(GPADL_TYPE_SERVER_SAVE_AREA, GPADL_TYPE_SERVER_SAVE_AREA);
	DEFINE(GPADL_TYPE_TRANSACTION, GPADL_TYPE_TRANSACTION);
	DEFINE(VMBUS_FEATURE_FLAG_CONFIDENTIAL_CHANNELS, VMBUS_FEATURE_FLAG_CONFIDENTIAL_CHANNELS);
	DEFINE(MAX_SIZE_CHANNEL_MESSAGE, MAX_SIZE_CHANNEL_MESSAGE);
	DEFINE(MAX_NUM_CHANNELS, MAX_NUM_CHANNELS);
	DEFINE(MAX_NUM_CHANNELS_SUPPORTED, MAX_NUM_CHANNELS_SUPPORTED);
	DEFINE(MAX_CHANNEL_RELIDS, MAX_CHANNEL_RELIDS);
	DEFINE(VM_PKT_INVALID, VM_PKT_INVALID);
	DEFINE(VM_PKT_SYNCH, VM_PKT_SYNCH);
	DEFINE(VM_PKT_ADD_XFER_PAGESET, VM_PKT_ADD_XFER_PAGESET);
	DEFINE(VM_PKT_RM_XFER_PAGESET, VM_PKT_RM_XFER_PAGESET);
	DEFINE(VM_PKT_ESTABLISH_GPADL, VM_PKT_ESTABLISH_GPADL);
	DEFINE(VM_PKT_TEARDOWN_GPADL, VM_PKT_TEARDOWN_GPADL);
	DEFINE(VM_PKT_DATA_INBAND, VM_PKT_DATA_INBAND);
	DEFINE(VM_PKT_DATA_USING_XFER_PAGES, VM_PKT_DATA_USING_XFER_PAGES);
	DEFINE(VM_PKT_DATA_USING_GPADL, VM_PKT_DATA_USING_GPADL);
	DEFINE(VM_PKT_DATA_USING_GPA_DIRECT, VM_PKT_DATA_USING_GPA_DIRECT);
	DEFINE(VM_PKT_CANCEL_REQUEST, VM_PKT_CANCEL_REQUEST);
	DEFINE(VM_PKT_COMP, VM_PKT_COMP);
	DEFINE(VM_PKT_DATA_USING_ADDITIONAL_PKT, VM_PKT_DATA_USING_ADDITIONAL_PKT);
	DEFINE(VM_PKT_ADDITIONAL_DATA, VM_PKT_ADDITIONAL_DATA);
	DEFINE(VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
	DEFINE(MAX_PAGE_BUFFER_COUNT, MAX_PAGE_BUFFER_COUNT);
	DEFINE(MAX_MULTIPAGE_BUFFER_COUNT, MAX_MULTIPAGE_BUFFER_COUNT);
	DEFINE(VMBUS_DEFAULT_MAX_PKT_SIZE, VMBUS_DEFAULT_MAX_PKT_SIZE);
	DEFINE(VMBUS_PKT_TRAILER, VMBUS_PKT_TRAILER);
	DEFINE(HV_HYP_PAGE_SIZE, HV_HYP_PAGE_SIZE);
	DEFINE(HV_HYP_PAGE_SHIFT, HV_HYP_PAGE_SHIFT);
	DEFINE(HV_MESSAGE_PAYLOAD_BYTE_COUNT, HV_MESSAGE_PAYLOAD_BYTE_COUNT);
	DEFINE(HV_EVENT_FLAGS_COUNT, HV_EVENT_FLAGS_COUNT);

	/* --- device class GUIDs (hv_vmbus_device_id initialisers) --- */
	GUID_FACT(HV_NIC);
	GUID_FACT(HV_IDE);
	GUID_FACT(HV_SCSI);
	GUID_FACT(HV_SHUTDOWN);
	GUID_FACT(HV_TS);
	GUID_FACT(HV_HEART_BEAT);
	GUID_FACT(HV_KVP);
	GUID_FACT(HV_DM);
	GUID_FACT(HV_MOUSE);
	GUID_FACT(HV_KBD);
	GUID_FACT(HV_VSS);
	GUID_FACT(HV_SYNTHVID);
	GUID_FACT(HV_SYNTHFC);
	GUID_FACT(HV_FCOPY);
	GUID_FACT(HV_ND);
	GUID_FACT(HV_PCIE);
	GUID_FACT(HV_AVMA1);
	GUID_FACT(HV_AVMA2);
	GUID_FACT(HV_RDV);
	GUID_FACT(HV_IMC);
}
